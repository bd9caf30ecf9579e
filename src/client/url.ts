/**
 * A gateway URL without its query, fragment or credentials (tokens travel there on some
 * backends), for keys that name a connection: storage keys, the key tabs share one socket by.
 */
export function urlBase(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return url.split(/[?#]/)[0] ?? url
  }
}
