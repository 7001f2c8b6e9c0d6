/** The webhook receiver every delivery benchmark posts to: plain node:http, answers 200 at once. */
import http from 'node:http';

let count = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    count++;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  process.stdout.write(JSON.stringify({ msg: 'hookwave started', url: `http://127.0.0.1:${addr.port}` }) + '\n');
});
process.on('message', () => process.send?.({ count }));
