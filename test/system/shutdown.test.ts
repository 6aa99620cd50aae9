import { describe, expect, it } from 'vitest';
import { Shutdown } from '../../src/system/shutdown.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** A Shutdown whose process ends are recorded instead of taken. */
function shutdown(): { shutdown: Shutdown; clock: ManualClock; exits: number[]; said: string[] } {
  const clock = new ManualClock();
  const exits: number[] = [];
  const said: string[] = [];
  return { shutdown: new Shutdown({ exit: (code) => exits.push(code), say: (line) => said.push(line), clock }), clock, exits, said };
}

describe('Shutdown', () => {
  it('begins the close on the first signal and exits 1 at once on the second', () => {
    const { shutdown: s, exits, said } = shutdown();
    s.signalled('SIGTERM');
    expect(s.signal.aborted).toBe(true);
    expect(exits).toEqual([]);
    expect(said).toEqual(['ser-agent: SIGTERM received, stopping (send it again to exit now)']);
    s.signalled('SIGINT');
    expect(exits).toEqual([1]);
    expect(said.at(-1)).toBe('ser-agent: SIGINT received again, exiting now');
  });

  it('exits 1 when the close outlasts the deadline, read when the close begins', () => {
    const { shutdown: s, clock, exits, said } = shutdown();
    let seconds = 10;
    s.setDeadline(() => seconds * 1000);
    // A reload changed shutdownSeconds after the deadline was set.
    seconds = 3;
    s.signalled('SIGTERM');
    clock.advance(2999);
    expect(exits).toEqual([]);
    clock.advance(1);
    expect(exits).toEqual([1]);
    expect(said.at(-1)).toBe('ser-agent: still stopping after 3 s (shutdownSeconds); exiting now');
  });

  it('ends the process with the command\'s code once a close is done, and cancels the deadline', () => {
    const { shutdown: s, clock, exits } = shutdown();
    s.setDeadline(() => 5000);
    s.close();
    expect(s.signal.aborted).toBe(true);
    expect(s.finish(1)).toBe(1);
    expect(exits).toEqual([1]);
    expect(clock.active).toBe(0);
  });

  it('leaves the process to drain when nothing asked for a close (a one-shot command ran to its end)', () => {
    const { shutdown: s, clock, exits } = shutdown();
    s.setDeadline(() => 5000);
    expect(s.finish(0)).toBe(0);
    expect(exits).toEqual([]);
    expect(clock.active).toBe(0);
  });

  it('closes on a fatal error as on a signal, exits 1 though the close went well, and at once on a second', () => {
    const { shutdown: s, clock, exits, said } = shutdown();
    s.setDeadline(() => 5000);
    s.fatal(new TypeError('cannot read properties of undefined'), 'uncaught exception');
    expect(s.signal.aborted).toBe(true);
    expect(said.at(-1)).toMatch(/^ser-agent: uncaught exception, stopping: TypeError: cannot read properties of undefined\n\s+at /);
    expect(clock.active).toBe(1);
    s.finish(0);
    expect(exits).toEqual([1]);

    const second = shutdown();
    second.shutdown.fatal('a string', 'unhandled rejection');
    expect(second.said).toEqual(['ser-agent: unhandled rejection, stopping: a string']);
    second.shutdown.fatal(new Error('again'), 'uncaught exception');
    expect(second.exits).toEqual([1]);
  });

  it('starts the deadline when it is set after the close began (a signal during start-up)', () => {
    const { shutdown: s, clock, exits } = shutdown();
    s.signalled('SIGINT');
    expect(clock.active).toBe(0);
    s.setDeadline(() => 1000);
    clock.advance(1000);
    expect(exits).toEqual([1]);
  });
});
