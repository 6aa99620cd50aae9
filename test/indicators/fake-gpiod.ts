import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type SpawnTool, type ToolExit, type ToolProcess } from '../../src/indicators/gpiod-tools.js';

/** A captured `gpioinfo` output under fixtures/gpioinfo (see its README). */
export function gpioinfoFixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`./fixtures/gpioinfo/${name}.txt`, import.meta.url)), 'utf8');
}

const VERSION_TEXT = {
  1: 'gpioset (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski\nLicense: LGPLv2.1\n',
  2: 'gpioset (libgpiod) v2.2.1\nCopyright (C) 2017-2023 Bartosz Golaszewski\nLicense: GPL-2.0-or-later\n',
} as const;

export interface FakeGpiodOptions {
  /** The libgpiod release the tools are from: it decides gpioset's arguments and --version. */
  major: 1 | 2;
  /** What gpioinfo prints: a fixture's text. */
  gpioinfo: string;
  /** The tools are not installed: every spawn fails with ENOENT. */
  missing?: boolean;
}

/**
 * The libgpiod tools at the process edge, playing the kernel's side too: `gpioset` holds its
 * line while it runs and releases it when it ends, fails with "Device or resource busy" on a line
 * another gpioset holds, and rejects arguments of the other libgpiod release, as the real tools do.
 * Every event comes on a later turn of the event loop, as from a real process.
 */
export class FakeGpiod {
  readonly #options: FakeGpiodOptions;
  readonly #chips = new Map<string, number>();
  /** `chip:offset` → value of each line a running gpioset holds. */
  readonly #held = new Map<string, 0 | 1>();
  /** `chip:offset` → the value a line had when its gpioset released it. */
  readonly #released = new Map<string, 0 | 1>();
  /** `chip:offset` → the gpioset holding that line. */
  readonly #holders = new Map<string, FakeProcess>();
  /** `chip:offset` → what gpioset prints on standard error when asked to claim that line. */
  readonly #refusals = new Map<string, string>();
  /** Every command line run, as `tool arg arg...`. */
  readonly commands: string[] = [];
  running = 0;

  constructor(options: FakeGpiodOptions) {
    this.#options = options;
    for (const match of options.gpioinfo.matchAll(/^(\S+) - (\d+) lines:$/gm)) {
      if (!this.#chips.has(match[1]!)) this.#chips.set(match[1]!, Number(match[2]));
    }
  }

  /** Makes every later claim of `offset` on `chip` fail with `message` (what gpioset prints). */
  refuse(chip: string, offset: number, message: string): void {
    this.#refusals.set(`${chip}:${offset}`, message);
  }

  /** Lets claims of `offset` on `chip` succeed again. */
  allow(chip: string, offset: number): void {
    this.#refusals.delete(`${chip}:${offset}`);
  }

  /** Ends the gpioset holding `offset` on `chip` as if it failed, printing `message`. */
  crash(chip: string, offset: number, message: string): void {
    const holder = this.#holders.get(`${chip}:${offset}`);
    if (!holder) throw new Error(`no gpioset holds ${chip} line ${offset}`);
    holder.onKill = undefined;
    this.#release(`${chip}:${offset}`);
    later(() => holder.fail(message));
  }

  #release(key: string): void {
    const value = this.#held.get(key);
    if (value !== undefined) this.#released.set(key, value);
    this.#held.delete(key);
    this.#holders.delete(key);
    this.running -= 1;
  }

  /**
   * The level each line of `chip` was left at when its last gpioset ended: what a Raspberry Pi
   * kernel, which keeps a released output's level by default, goes on showing. offset → lit.
   */
  releasedAt(chip: string): Map<number, boolean> {
    return this.#linesOf(chip, this.#released);
  }

  /** The lines held now on `chip`: offset → lit. */
  held(chip: string): Map<number, boolean> {
    return this.#linesOf(chip, this.#held);
  }

  #linesOf(chip: string, values: ReadonlyMap<string, 0 | 1>): Map<number, boolean> {
    const lines = new Map<number, boolean>();
    for (const [key, value] of values) {
      const [name, offset] = key.split(':');
      if (name === chip) lines.set(Number(offset), value === 1);
    }
    return lines;
  }

  readonly spawn: SpawnTool = (command, args) => {
    this.commands.push([command, ...args].join(' '));
    const tool = new FakeProcess();
    if (this.#options.missing) {
      later(() => tool.end({ code: null, signal: null, error: Object.assign(new Error(`spawn ${command} ENOENT`), { code: 'ENOENT' }) }));
      return tool;
    }
    if (command === 'gpioinfo' && args.length === 0) {
      later(() => {
        tool.out(this.#options.gpioinfo);
        tool.end({ code: 0, signal: null });
      });
    } else if (command === 'gpioset' && args.length === 1 && args[0] === '--version') {
      later(() => {
        tool.out(VERSION_TEXT[this.#options.major]);
        tool.end({ code: 0, signal: null });
      });
    } else if (command === 'gpioset') {
      this.#gpioset(tool, args);
    } else {
      later(() => tool.fail(`${command}: unexpected arguments ${args.join(' ')}`));
    }
    return tool;
  };

  #gpioset(tool: FakeProcess, args: readonly string[]): void {
    const parsed = this.#options.major === 1 ? parseV1(args) : parseV2(args);
    this.running += 1;
    let key: string | undefined;
    tool.onKill = (signal) => {
      if (key) this.#release(key);
      else this.running -= 1;
      tool.end({ code: null, signal });
    };
    later(() => {
      if (tool.ended) return;
      const refuse = (message: string): void => {
        this.running -= 1;
        tool.fail(`gpioset: ${message}`);
      };
      if (typeof parsed === 'string') return refuse(parsed);
      const lines = this.#chips.get(parsed.chip);
      if (lines === undefined) return refuse(`cannot find GPIO chip character device '${parsed.chip}'`);
      if (parsed.offset >= lines) return refuse(`offset ${parsed.offset} is out of range on chip '${parsed.chip}'`);
      const wanted = `${parsed.chip}:${parsed.offset}`;
      const refusal = this.#refusals.get(wanted);
      if (refusal) return refuse(refusal);
      if (this.#held.has(wanted)) {
        return refuse(
          this.#options.major === 1
            ? 'error setting the GPIO line values: Device or resource busy'
            : `unable to request lines on chip '/dev/${parsed.chip}': Device or resource busy`,
        );
      }
      key = wanted;
      this.#held.set(key, parsed.value);
      this.#holders.set(key, tool);
      if (this.#options.major === 2) tool.out(`Setting line '${parsed.offset}'...\n`);
    });
  }
}

/** libgpiod 1.x: `gpioset [--mode=wait] CHIP OFFSET=VALUE`. */
function parseV1(args: readonly string[]): { chip: string; offset: number; value: 0 | 1 } | string {
  const rest = [...args];
  while (rest[0]?.startsWith('-')) {
    const option = rest.shift()!;
    if (option !== '--mode=wait') return `unrecognized option '${option}'`;
  }
  const [chip, mapping, ...more] = rest;
  if (!chip || !mapping || more.length > 0) return 'expected one chip and one offset=value';
  return parseMapping(chip, mapping);
}

/** libgpiod 2.x: `gpioset --banner --consumer=NAME --chip CHIP OFFSET=VALUE`. */
function parseV2(args: readonly string[]): { chip: string; offset: number; value: 0 | 1 } | string {
  const rest = [...args];
  let chip: string | undefined;
  while (rest[0]?.startsWith('-')) {
    const option = rest.shift()!;
    if (option === '--chip' || option === '-c') chip = rest.shift();
    else if (option !== '--banner' && !option.startsWith('--consumer=')) return `unrecognized option '${option}'`;
  }
  const [mapping, ...more] = rest;
  if (!chip || !mapping || more.length > 0) return 'expected --chip and one offset=value';
  return parseMapping(chip, mapping);
}

function parseMapping(chip: string, mapping: string): { chip: string; offset: number; value: 0 | 1 } | string {
  const match = /^(\d+)=([01])$/.exec(mapping);
  if (!match) return `invalid offset<->value mapping: ${mapping}`;
  return { chip, offset: Number(match[1]), value: Number(match[2]) as 0 | 1 };
}

function later(action: () => void): void {
  setImmediate(action);
}

class FakeProcess implements ToolProcess {
  readonly #stdout: ((text: string) => void)[] = [];
  readonly #stderr: ((text: string) => void)[] = [];
  readonly #exit: ((exit: ToolExit) => void)[] = [];
  ended: ToolExit | undefined;
  onKill: ((signal: NodeJS.Signals) => void) | undefined;

  onStdout(listener: (text: string) => void): void {
    this.#stdout.push(listener);
  }
  onStderr(listener: (text: string) => void): void {
    this.#stderr.push(listener);
  }
  onExit(listener: (exit: ToolExit) => void): void {
    if (this.ended) listener(this.ended);
    else this.#exit.push(listener);
  }
  kill(signal: NodeJS.Signals): void {
    if (this.ended) return;
    const onKill = this.onKill;
    later(() => {
      if (this.ended) return;
      if (onKill) onKill(signal);
      else this.end({ code: null, signal });
    });
  }

  out(text: string): void {
    for (const listener of this.#stdout) listener(text);
  }
  fail(message: string): void {
    for (const listener of this.#stderr) listener(`${message}\n`);
    this.end({ code: 1, signal: null });
  }
  end(exit: ToolExit): void {
    if (this.ended) return;
    this.ended = exit;
    for (const listener of this.#exit) listener(exit);
  }
}
