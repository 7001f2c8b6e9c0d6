import net from 'node:net';

/**
 * A loopback port nothing listens on: a connection there is refused at once. (Asked of the OS and
 * released, rather than a fixed one like 9, which undici refuses outright as a well-known port.)
 */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
