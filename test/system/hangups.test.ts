import { describe, expect, it } from 'vitest';
import { Hangups } from '../../src/system/hangups.js';

function hangups(): { hangups: Hangups; ended: () => number } {
  let ends = 0;
  return {
    hangups: new Hangups(() => {
      ends++;
    }),
    ended: () => ends,
  };
}

describe('Hangups', () => {
  it('calls the listener of a command that reloads, for each SIGHUP', () => {
    const { hangups: h, ended } = hangups();
    let reloads = 0;
    h.listen(() => reloads++);
    h.received();
    h.received();
    expect(reloads).toBe(2);
    expect(ended()).toBe(0);
  });

  it('holds a SIGHUP that came before the command listened, and hands it over once', () => {
    const { hangups: h } = hangups();
    h.received();
    h.received();
    let reloads = 0;
    h.listen(() => reloads++);
    expect(reloads).toBe(1);
  });

  it('ignores a SIGHUP after the command stopped listening (it is stopping)', () => {
    const { hangups: h, ended } = hangups();
    let reloads = 0;
    const stop = h.listen(() => reloads++);
    stop();
    h.received();
    expect(reloads).toBe(0);
    expect(ended()).toBe(0);
  });

  it('ends a command that does not reload, also for a SIGHUP held before it said so', () => {
    const held = hangups();
    held.hangups.received();
    expect(held.ended()).toBe(0);
    held.hangups.endOnHangup();
    expect(held.ended()).toBe(1);

    const later = hangups();
    later.hangups.endOnHangup();
    expect(later.ended()).toBe(0);
    later.hangups.received();
    expect(later.ended()).toBe(1);
  });
});
