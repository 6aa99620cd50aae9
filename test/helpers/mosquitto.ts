import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);

/** One TLS listener on 127.0.0.1. */
export interface TlsListener {
  cafile: string;
  certfile: string;
  keyfile: string;
  /** Refuse clients without a certificate signed by `cafile`. */
  requireCertificate: boolean;
}

export interface MosquittoOptions {
  /** Where the configuration, password file and ACL are written. */
  dir: string;
  listeners: Record<string, TlsListener>;
  /** User name → password, hashed into a password file with mosquitto_passwd. */
  users: Record<string, string>;
  /** mosquitto acl_file text. */
  acl: string;
}

export interface Mosquitto {
  /** The port of each listener, by the name it was given. */
  ports: Record<string, number>;
  /** What mosquitto logged so far (connections, refusals), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * A real mosquitto (Debian's package, installed by .ci/run) as a child process, with password
 * authentication, an ACL and TLS listeners, on free ports. Resolves once every listener accepts
 * connections.
 */
export async function startMosquitto(options: MosquittoOptions): Promise<Mosquitto> {
  const binary = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((file) => existsSync(file)) ?? 'mosquitto';
  const passwordFile = path.join(options.dir, 'mosquitto.passwd');
  const aclFile = path.join(options.dir, 'mosquitto.acl');
  const configFile = path.join(options.dir, 'mosquitto.conf');
  await writeFile(passwordFile, '');
  for (const [user, password] of Object.entries(options.users)) {
    await run('mosquitto_passwd', ['-b', passwordFile, user, password]);
  }
  await writeFile(aclFile, options.acl);

  const ports: Record<string, number> = {};
  const lines = [
    // mosquitto 2 started as root drops to the `mosquitto` user, which could not read the
    // test's temporary files; staying root is fine for a test broker on loopback.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    'per_listener_settings false',
    'allow_anonymous false',
    'persistence false',
    `password_file ${passwordFile}`,
    `acl_file ${aclFile}`,
    'log_dest stderr',
    'log_type all',
    'log_timestamp false',
  ];
  for (const [name, listener] of Object.entries(options.listeners)) {
    const port = await freePort();
    ports[name] = port;
    lines.push(
      `listener ${port} 127.0.0.1`,
      `cafile ${listener.cafile}`,
      `certfile ${listener.certfile}`,
      `keyfile ${listener.keyfile}`,
      `require_certificate ${String(listener.requireCertificate)}`,
    );
  }
  await writeFile(configFile, `${lines.join('\n')}\n`);

  const child = spawn(binary, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (const port of Object.values(ports)) await waitForListener(child, port, () => log);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    ports,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitForListener(child: ChildProcess, port: number, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with code ${child.exitCode}:\n${log()}`);
    if (await accepts(port)) return;
    if (Date.now() > deadline) throw new Error(`mosquitto is not listening on ${port} after 10 s:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
