import { type Server } from 'node:net';

/**
 * Starts `server` listening; rejects with the listen error (EADDRINUSE, EACCES, ...) instead
 * of letting it reach the server's 'error' event unhandled. HTTP servers are net servers too.
 */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
