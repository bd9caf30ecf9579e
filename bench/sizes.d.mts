export interface ModuleSize {
  module: string
  /** Which part of createClient the module belongs to (see PARTS). */
  part: string
  /** Minified bytes in the bundle. */
  bytes: number
  share: number
  /** gzip bytes the module costs: the bundle's gzip minus the bundle's without it. */
  gzip?: number
}
export interface PartSize {
  part: string
  bytes: number
  gzip: number
  modules: number
}
export interface SizeResult {
  name: string
  minified: number
  gzip: number
  brotli: number
  peer: boolean
  note: string
  /** With `metafile: true`: the bundle by module, biggest first. */
  modules?: ModuleSize[]
}
export interface SizeTarget {
  name: string
  contents: string
  external: string[]
  note?: string
  peer?: boolean
}
export const BUDGETS: Record<string, number>
export const CEILINGS: Record<string, number>
export const TARGETS: SizeTarget[]
export const PARTS: Array<[string, RegExp]>
export function partOf(module: string): string
export function measure(target: SizeTarget, options?: { metafile?: boolean }): Promise<SizeResult>
export function measureAll(): Promise<SizeResult[]>
export function byPart(modules: ModuleSize[]): PartSize[]
export function gzipByModule(code: string, map: { sources: string[]; mappings: string }): Map<string, number>
