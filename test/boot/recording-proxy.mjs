// A recording HTTP proxy for the round-trip tests, in a process of its own (open()
// blocks its caller's thread on the I/O bridge, so a proxy in the test's process would
// never answer). Every response's head waits `latencyMs` after radosgw's, so requests
// sent together overlap for certain and one sent after another's answer does not:
// the log then tells sequential round trips apart from parallel ones, whatever the
// machine's load. Requests are passed on unchanged (SigV4 signs the Host header).
//
//   node test/boot/recording-proxy.mjs <upstream> <latencyMs>
//   IPC in: { id, cmd: 'records' | 'clear' }; out: { ready: endpoint } once, { id, result }.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const [upstreamArg, latencyArg] = process.argv.slice(2);
const upstream = new URL(upstreamArg);
const latencyMs = Number(latencyArg);
const now = () => performance.timeOrigin + performance.now();
let records = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

const server = http.createServer((req, res) => {
  const rec = { method: req.method, path: req.url, range: req.headers.range ?? null, status: 0, start: now(), end: 0, bytes: 0 };
  records.push(rec);
  const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
    setTimeout(() => {
      rec.status = upRes.statusCode ?? 0;
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.on('data', (chunk) => (rec.bytes += chunk.length));
      upRes.pipe(res);
      res.on('finish', () => (rec.end = now()));
    }, latencyMs);
  });
  up.on('error', (err) => {
    rec.status = 502;
    rec.end = now();
    res.destroy(err);
  });
  req.pipe(up);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.send({ ready: `http://127.0.0.1:${port}` });
});

process.on('message', (m) => {
  if (m.cmd === 'records') process.send({ id: m.id, result: records });
  else if (m.cmd === 'clear') {
    records = [];
    process.send({ id: m.id, result: null });
  }
});
process.on('disconnect', () => process.exit(0));
