// Module hooks for import-cost.mjs: report every module URL that gets loaded (main
// thread and workers alike; hooks run on their own thread) to the port handed over.
let port;
export function initialize(data) {
  port = data.port;
}
export async function load(url, context, next) {
  port.postMessage(url);
  return next(url, context);
}
