import net from 'node:net';

/**
 * Tests that need a real service (PostgreSQL, MariaDB, NATS, Kafka's mock peer) run against it.
 * On a developer's laptop without it they are skipped with a loud message; under CI=true a
 * missing service fails the run instead, so CI can never pass by skipping.
 */
export async function requireService(name: string, probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (error) {
    const message = `${name} is not reachable (${(error as Error).message}); its tests need the real service`;
    if (process.env.CI === 'true') throw new Error(`${message}. CI must run them: start the service (see .ci/run).`);
    console.warn(`\n!!! SKIPPING ${name} TESTS: ${message}. Start it to run them: .ci/run starts every service the tests use (README.md, Set-up, lists them). !!!\n`);
    return false;
  }
}

export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${host}:${port}`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** A port nothing listens on now, for a server a test starts (its own or a child process's). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
