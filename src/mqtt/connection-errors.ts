import { describeError } from '../errors.js';

/** Why a connection attempt failed, worded for the operator who has to fix it. */
export interface ConnectionDiagnosis {
  reason: string;
  /** What to change, when the cause is on this side (credentials, certificates, settings). */
  fix?: string;
  /**
   * The broker (or the TLS layer) refused on purpose: retrying alone will not help, someone
   * has to change a setting. Logged as an error, not a warning.
   */
  refused: boolean;
}

interface Refusal {
  reason: string;
  fix: string;
}

const BAD_CREDENTIALS: Refusal = {
  reason: 'bad user name or password',
  fix: 'check mqtt.username and the password in mqtt.passwordFile against the broker\'s password file',
};
const NOT_AUTHORIZED: Refusal = {
  reason: 'not authorized',
  // mosquitto 2 answers a wrong password so too (return code 5, reason code 135), not with 4/134.
  fix:
    'check mqtt.username and the password in mqtt.passwordFile, and that the broker lets this user ' +
    'and client certificate connect',
};
const CLIENT_ID_REJECTED: Refusal = {
  reason: 'client id rejected',
  fix: 'the broker refuses deviceId as a client id; choose a shorter or plainer deviceId',
};
const PROTOCOL_REJECTED: Refusal = {
  reason: 'MQTT protocol version not supported by the broker',
  fix: 'set mqtt.protocolVersion to 4 (MQTT 3.1.1)',
};

/**
 * CONNACK refusals: MQTT 3.1.1 return codes (section 3.2.2.3) and MQTT 5 reason codes
 * (section 3.2.2.2). MQTT.js reports them as an error whose numeric `code` is the code.
 */
const CONNACK_REFUSALS: ReadonlyMap<number, Refusal> = new Map([
  [1, PROTOCOL_REJECTED],
  [2, CLIENT_ID_REJECTED],
  [4, BAD_CREDENTIALS],
  [5, NOT_AUTHORIZED],
  [132, PROTOCOL_REJECTED],
  [133, CLIENT_ID_REJECTED],
  [134, BAD_CREDENTIALS],
  [135, NOT_AUTHORIZED],
  [138, { reason: 'banned', fix: 'the broker has banned this client; ask its administrator' }],
  [140, { reason: 'bad authentication method', fix: 'the broker expects another authentication method' }],
]);

/** OpenSSL verification results for the broker's certificate, as Node names them. */
const SERVER_CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * TLS alerts the broker sends about this box's client certificate. With TLS 1.3 they arrive
 * after the handshake looked complete from this side, when the broker has checked the certificate.
 */
const CLIENT_CERTIFICATE_ALERTS: ReadonlyMap<string, Refusal> = new Map([
  [
    'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    { reason: 'client certificate required', fix: 'set mqtt.tls.certFile and mqtt.tls.keyFile' },
  ],
  [
    'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
    {
      reason: 'client certificate not accepted: the broker does not trust the CA that signed it',
      fix: 'use a client certificate signed by the CA in the broker\'s cafile',
    },
  ],
  [
    'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
    { reason: 'client certificate not accepted', fix: 'check mqtt.tls.certFile against the broker\'s cafile' },
  ],
  [
    'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
    { reason: 'client certificate expired', fix: 'renew mqtt.tls.certFile, and check this box\'s clock' },
  ],
  [
    'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
    {
      reason: 'TLS handshake refused by the broker',
      fix: 'a TLS 1.2 broker also answers so to a missing client certificate: check mqtt.tls.certFile and keyFile',
    },
  ],
]);

/**
 * Whether a publish failed because the broker refused it (an MQTT 5 PUBACK reason code such as
 * 135, not authorized by the ACL) rather than because the connection went away: MQTT.js gives
 * the former a numeric code.
 */
export function isPublishRefusal(error: Error | null | undefined): boolean {
  return error instanceof Error && typeof (error as Error & { code?: unknown }).code === 'number';
}

/** The diagnosis of the error MQTT.js reported before a connection closed (undefined: none was). */
export function diagnoseConnectionError(error: Error | undefined): ConnectionDiagnosis {
  if (error === undefined) return { reason: 'connection closed', refused: false };
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code === 'number') {
    const refusal = CONNACK_REFUSALS.get(code);
    // Other codes (server busy, unavailable...) are the broker's own trouble: retrying is the cure.
    return refusal === undefined
      ? { reason: `${describeError(error)} (code ${code})`, refused: false }
      : { reason: `${refusal.reason} (code ${code})`, fix: refusal.fix, refused: true };
  }
  if (typeof code !== 'string') return { reason: describeError(error), refused: false };
  if (SERVER_CERTIFICATE_CODES.has(code)) {
    return {
      reason: `server certificate not trusted: ${describeError(error)}`,
      fix: serverCertificateFix(code),
      refused: true,
    };
  }
  const alert = CLIENT_CERTIFICATE_ALERTS.get(code);
  if (alert !== undefined) return { reason: alert.reason, fix: alert.fix, refused: true };
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return {
      reason: 'the broker does not speak TLS on this port',
      fix: 'use the broker\'s TLS port in mqtt.url (often 8883), or mqtt:// if it has no TLS',
      refused: true,
    };
  }
  if (code.startsWith('ERR_SSL_')) return { reason: `TLS failure: ${describeError(error)}`, refused: true };
  return { reason: describeError(error), refused: false };
}

function serverCertificateFix(code: string): string {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return 'the certificate does not name the host in mqtt.url: connect by a name it lists, or set mqtt.tls.servername';
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return 'check the dates of the broker\'s certificate and this box\'s clock';
  }
  return 'set mqtt.tls.caFile to the CA certificate that signed the broker\'s certificate';
}
