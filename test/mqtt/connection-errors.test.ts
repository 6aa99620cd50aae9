import { describe, expect, it } from 'vitest';
import { diagnoseConnectionError, isPublishRefusal } from '../../src/mqtt/connection-errors.js';

function withCode(message: string, code: number | string): Error {
  return Object.assign(new Error(message), { code });
}

describe('diagnoseConnectionError', () => {
  it.each([
    [4, 'bad user name or password (code 4)', /mqtt\.passwordFile/],
    [134, 'bad user name or password (code 134)', /mqtt\.passwordFile/],
    [5, 'not authorized (code 5)', /mqtt\.passwordFile/],
    [135, 'not authorized (code 135)', /mqtt\.passwordFile/],
    [2, 'client id rejected (code 2)', /deviceId/],
    [132, 'MQTT protocol version not supported by the broker (code 132)', /mqtt\.protocolVersion to 4/],
  ])('CONNACK code %i is a refusal: %s', (code, reason, fix) => {
    const diagnosis = diagnoseConnectionError(withCode('Connection refused: whatever MQTT.js says', code));
    expect(diagnosis).toMatchObject({ reason, refused: true });
    expect(diagnosis.fix).toMatch(fix);
  });

  it('treats a busy or unavailable broker as trouble that retrying cures', () => {
    expect(diagnoseConnectionError(withCode('Connection refused: Server busy', 137))).toEqual({
      reason: 'Connection refused: Server busy (code 137)',
      refused: false,
    });
  });

  it.each([
    ['SELF_SIGNED_CERT_IN_CHAIN', /mqtt\.tls\.caFile/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', /mqtt\.tls\.caFile/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', /mqtt\.tls\.servername/],
    ['CERT_HAS_EXPIRED', /clock/],
  ])('%s: the server certificate is not trusted', (code, fix) => {
    const diagnosis = diagnoseConnectionError(withCode('node says why', code));
    expect(diagnosis).toMatchObject({ reason: 'server certificate not trusted: node says why', refused: true });
    expect(diagnosis.fix).toMatch(fix);
  });

  it('names what the broker said about the client certificate, and a port without TLS', () => {
    expect(diagnoseConnectionError(withCode('alert 116', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')).reason).toBe(
      'client certificate required',
    );
    expect(diagnoseConnectionError(withCode('alert 42', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE')).reason).toBe(
      'client certificate not accepted',
    );
    expect(diagnoseConnectionError(withCode('wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER'))).toMatchObject({
      reason: 'the broker does not speak TLS on this port',
      refused: true,
    });
    expect(diagnoseConnectionError(withCode('decrypt error', 'ERR_SSL_DECRYPT_ERROR'))).toEqual({
      reason: 'TLS failure: decrypt error',
      refused: true,
    });
  });

  it('passes network errors through as retryable, and says so when nothing was reported', () => {
    expect(diagnoseConnectionError(withCode('connect ECONNREFUSED 127.0.0.1:1883', 'ECONNREFUSED'))).toEqual({
      reason: 'connect ECONNREFUSED 127.0.0.1:1883',
      refused: false,
    });
    expect(diagnoseConnectionError(undefined)).toEqual({ reason: 'connection closed', refused: false });
    expect(diagnoseConnectionError(new Error('TLS not authorized'))).toEqual({ reason: 'TLS not authorized', refused: false });
  });
});

describe('isPublishRefusal', () => {
  it('is true for a PUBACK reason code and false for a lost connection or no error', () => {
    expect(isPublishRefusal(withCode('Publish error: Not authorized', 135))).toBe(true);
    expect(isPublishRefusal(withCode('write EPIPE', 'EPIPE'))).toBe(false);
    expect(isPublishRefusal(new Error('client disconnecting'))).toBe(false);
    expect(isPublishRefusal(undefined)).toBe(false);
    expect(isPublishRefusal(null)).toBe(false);
  });
});
