export interface SizeResult {
  name: string
  minified: number
  gzip: number
  brotli: number
  peer: boolean
  note: string
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
export function measure(target: SizeTarget): Promise<SizeResult>
export function measureAll(): Promise<SizeResult[]>
