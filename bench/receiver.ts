/**
 * The webhook receiver every delivery benchmark posts to: plain node:http, answers 200 at once,
 * or 503 to a random share of requests with `--fail=0.2` (the soak). A GET answers how many POSTs
 * it has had, as JSON {count, failed}.
 */
import http from 'node:http';

const failShare = Number(process.argv.find((a) => a.startsWith('--fail='))?.slice(7) ?? 0);
let count = 0;
let failed = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count, failed }));
      return;
    }
    count++;
    if (failShare > 0 && Math.random() < failShare) {
      failed++;
      res.writeHead(503, { 'content-type': 'text/plain' }).end('try again later');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  process.stdout.write(JSON.stringify({ msg: 'hookwave started', url: `http://127.0.0.1:${addr.port}` }) + '\n');
});
process.on('message', () => process.send?.({ count }));
