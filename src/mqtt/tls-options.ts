import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError, describeError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { redactBrokerUrl } from './broker-url.js';

/** The mqtt.tls settings: file paths, not their contents, so the configuration can be printed. */
export interface TlsSettings {
  caFile: string;
  certFile: string;
  keyFile: string;
  rejectUnauthorized: boolean;
  servername: string;
}

/** What MQTT.js passes on to Node's tls.connect, files already read and checked. */
export interface TlsConnectOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
}

const TLS_SCHEMES = ['mqtts:', 'wss:'];

/** Whether the broker URL asks for TLS; the empty URL (the embedded broker) does not. */
export function usesTls(url: string): boolean {
  return TLS_SCHEMES.some((scheme) => url.toLowerCase().startsWith(scheme));
}

/**
 * Problems with mqtt.tls that need no file access, for the configuration check that reports
 * every problem at once: a certificate without its key, TLS settings on a plain URL, a server
 * name that cannot be one.
 */
export function checkTlsSettings(tls: TlsSettings, url: string): string[] {
  const problems: string[] = [];
  if (tls.certFile !== '' && tls.keyFile === '') {
    problems.push('mqtt.tls.certFile is set but mqtt.tls.keyFile is empty: a client certificate needs its private key; set both or neither');
  }
  if (tls.keyFile !== '' && tls.certFile === '') {
    problems.push('mqtt.tls.keyFile is set but mqtt.tls.certFile is empty: a private key needs its client certificate; set both or neither');
  }
  if (tls.servername !== '' && isIP(tls.servername) !== 0) {
    problems.push(
      `mqtt.tls.servername is "${tls.servername}", an IP address: TLS server names are host names; ` +
        'leave it empty to check the certificate against the IP address in mqtt.url',
    );
  }
  if (tls.servername !== '' && url.toLowerCase().startsWith('wss:')) {
    // MQTT.js forwards ca, cert, key and rejectUnauthorized to the WebSocket, but not servername.
    problems.push('mqtt.tls.servername works only with mqtts:// URLs; with wss:// the host in mqtt.url is the server name');
  }
  const set = [
    ...(['caFile', 'certFile', 'keyFile', 'servername'] as const).filter((key) => tls[key] !== ''),
    ...(tls.rejectUnauthorized ? [] : ['rejectUnauthorized']),
  ];
  if (set.length > 0 && !usesTls(url)) {
    // Silently ignoring them would send the password in clear to a broker the operator meant to secure.
    const plain = url === '' ? 'is empty (the embedded broker, plain MQTT on 127.0.0.1)' : `is "${url}", without TLS`;
    problems.push(
      `${set.map((key) => `mqtt.tls.${key}`).join(', ')} ${set.length === 1 ? 'is' : 'are'} set but mqtt.url ${plain}; ` +
        'use an mqtts:// (usually port 8883) or wss:// URL, or remove the mqtt.tls settings',
    );
  }
  return problems;
}

/**
 * Reads and checks the files mqtt.tls names, once at start-up, so a missing, unreadable or
 * mismatched file stops the agent with a configuration error instead of failing every
 * connection attempt. Returns undefined for a URL without TLS. Logs a warning when the broker's
 * certificate will not be checked and when a certificate is outside its validity dates.
 */
export function readTlsOptions(
  tls: TlsSettings,
  url: string,
  logger: Logger,
  now: Date = new Date(),
): TlsConnectOptions | undefined {
  const problems = checkTlsSettings(tls, url);
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  if (!usesTls(url)) return undefined;

  const log = logger.child({ module: 'mqtt' });
  const options: TlsConnectOptions = { rejectUnauthorized: tls.rejectUnauthorized };
  if (tls.servername !== '') options.servername = tls.servername;
  if (tls.caFile !== '') {
    const ca = readCertificates('mqtt.tls.caFile', tls.caFile, problems);
    if (ca !== undefined) {
      options.ca = ca.pem;
      for (const certificate of ca.certificates) warnIfOutOfDate(log, 'mqtt.tls.caFile', tls.caFile, certificate, now);
    }
  }
  if (tls.certFile !== '') {
    const cert = readCertificates('mqtt.tls.certFile', tls.certFile, problems);
    const key = readPrivateKey('mqtt.tls.keyFile', tls.keyFile, problems);
    const leaf = cert?.certificates[0];
    if (leaf !== undefined && key !== undefined && !leaf.checkPrivateKey(key.object)) {
      problems.push(
        `mqtt.tls.keyFile: ${tls.keyFile} is not the private key of the certificate in mqtt.tls.certFile ` +
          `${tls.certFile} (their public keys differ); use the key the certificate was made for`,
      );
    }
    if (leaf !== undefined) warnIfOutOfDate(log, 'mqtt.tls.certFile', tls.certFile, leaf, now);
    if (cert !== undefined) options.cert = cert.pem;
    if (key !== undefined) options.key = key.pem;
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);

  if (!tls.rejectUnauthorized) {
    log.warn(
      { url: redactBrokerUrl(url), key: 'mqtt.tls.rejectUnauthorized' },
      'TLS CERTIFICATE CHECK IS OFF: mqtt.tls.rejectUnauthorized is false, so any server can pose as the broker ' +
        'and read the password and every event; set mqtt.tls.caFile to the broker\'s CA and remove this setting',
    );
  }
  return options;
}

interface CertificateFile {
  pem: Buffer;
  certificates: X509Certificate[];
}

function readCertificates(key: string, file: string, problems: string[]): CertificateFile | undefined {
  const pem = readPemFile(key, file, problems);
  if (pem === undefined) return undefined;
  const text = pem.toString('latin1');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    const holdsKey = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
    problems.push(
      holdsKey
        ? `${key}: ${file} holds a private key, not a certificate; are certFile and keyFile swapped?`
        : `${key}: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----); ${pemHint(text, file)}`,
    );
    return undefined;
  }
  const certificates: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch (error) {
      problems.push(`${key}: certificate ${index + 1} in ${file} cannot be parsed (${describeError(error)}); replace it`);
      return undefined;
    }
  }
  return { pem, certificates };
}

function readPrivateKey(key: string, file: string, problems: string[]): { pem: Buffer; object: KeyObject } | undefined {
  const pem = readPemFile(key, file, problems);
  if (pem === undefined) return undefined;
  const text = pem.toString('latin1');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    const holdsCertificate = text.includes('-----BEGIN CERTIFICATE-----');
    problems.push(
      holdsCertificate
        ? `${key}: ${file} holds a certificate, not a private key; are certFile and keyFile swapped?`
        : `${key}: ${file} holds no PEM private key (-----BEGIN PRIVATE KEY-----); ${pemHint(text, file)}`,
    );
    return undefined;
  }
  try {
    return { pem, object: createPrivateKey(pem) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(
      code === 'ERR_MISSING_PASSPHRASE' || /ENCRYPTED/.test(text)
        ? `${key}: ${file} is encrypted and the agent cannot ask for a passphrase; store it decrypted ` +
            `(openssl pkey -in ${file} -out key.pem) in a file only the agent user can read`
        : `${key}: ${file} cannot be parsed as a private key (${describeError(error)}); replace it`,
    );
    return undefined;
  }
}

function readPemFile(key: string, file: string, problems: string[]): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : code === 'EACCES'
            ? 'cannot be read by the agent user (EACCES); fix its permissions'
            : `cannot be read (${code ?? describeError(error)})`;
    problems.push(`${key}: ${file} ${problem}; set ${key} to a PEM file the agent can read`);
    return undefined;
  }
}

function pemHint(text: string, file: string): string {
  // DER starts with an ASN.1 SEQUENCE (0x30); PEM is its base64 between BEGIN/END lines.
  return text.charCodeAt(0) === 0x30
    ? `it looks like binary DER: convert it with openssl x509 -inform der -in ${file} -out ${file}.pem (openssl pkey for a key)`
    : 'expected a PEM file as openssl writes it';
}

/**
 * Out-of-date certificates are only warned about: a box without a real-time clock may start
 * with a wrong date until NTP has synchronised, and refusing to start then would be worse.
 */
function warnIfOutOfDate(log: Logger, key: string, file: string, certificate: X509Certificate, now: Date): void {
  const notBefore = new Date(certificate.validFrom);
  const notAfter = new Date(certificate.validTo);
  if (now < notBefore || now > notAfter) {
    log.warn(
      { key, file, subject: certificate.subject, validFrom: notBefore.toISOString(), validTo: notAfter.toISOString() },
      now > notAfter
        ? 'TLS certificate has expired: connections will be refused; renew it (or check this box\'s clock)'
        : 'TLS certificate is not valid yet: check this box\'s clock',
    );
  }
}
