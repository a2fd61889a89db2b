// URLs as they may be shown, logged or stored: without user info (`KEY:SECRET@`),
// also inside a nested `endpoint=` parameter, percent-encoded or not. Replica URLs
// with user info are refused (config.ts), so this is the second line: whatever URL
// reaches a message, a log or a file passes through here first. It errs on the side
// of hiding: everything from `//` to the last `@` before the query goes (a secret
// may hold `/`, which ends the authority for a URL parser but not for a reader).
const USERINFO = /(\/\/)[^?#&\s]*@/g;
const USERINFO_ENCODED = /(%2F%2F)(?:(?!%3F|%23|%26|[?#&\s]).)*%40/gi;

export function redactUrl(url: string): string {
  if (/^file:/i.test(url)) return url; // a path; file:// URLs with a host are refused anyway
  return url.replace(USERINFO, '$1***@').replace(USERINFO_ENCODED, '$1***%40');
}
