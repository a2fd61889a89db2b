// Runs dist/ltxcheck.wasm under Node: `node run.cjs [ltxcheck args…]`. Go's own
// wasm_exec_node.js assigns globalThis.crypto, which Node 20 refuses; Node already
// has crypto, performance and TextEncoder, so only fs is handed over here.
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
globalThis.fs = require('node:fs');
require('./wasm_exec.cjs');
const go = new globalThis.Go();
go.argv = ['ltxcheck', ...process.argv.slice(2)];
go.env = { TMPDIR: require('node:os').tmpdir(), ...process.env };
go.exit = (code) => process.exit(code);
WebAssembly.instantiate(readFileSync(join(__dirname, 'ltxcheck.wasm')), go.importObject)
  .then((r) => go.run(r.instance))
  .catch((err) => {
    console.error(err);
    process.exit(2);
  });
