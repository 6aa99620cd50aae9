import { type Logger } from '../logging/logger.js';
import { findHeaderChip, type GpioLineInfo } from './gpiochip-lines.js';
import { GpioError } from './gpio-error.js';
import {
  permissionAdvice,
  readChipLines,
  readToolsVersion,
  spawnTool,
  toolMessage,
  type GpiodToolsVersion,
  type SpawnTool,
  type ToolExit,
  type ToolProcess,
} from './gpiod-tools.js';
import { type LedDriver } from './led-driver.js';

/** The consumer name libgpiod 2.x's gpioset gives the lines it holds, as `gpioinfo` shows it. */
export const GPIOD_CONSUMER = 'ser-agent';

export interface GpiodDriverOptions {
  logger: Logger;
  /** Default: the real tools; tests pass a fake that plays them. */
  spawn?: SpawnTool;
  /**
   * libgpiod 1.x's gpioset prints nothing once it holds its line, and fails within milliseconds
   * when it cannot (busy, permission): one still running after this long counts as holding it.
   */
  settleMs?: number;
  /** How long a gpioset may take to start holding (2.x) or to exit when told to, before it is killed. */
  timeoutMs?: number;
  /**
   * How long after a gpioset ended on its own (killed, a kernel hiccup) its LED's line is
   * claimed again at the wanted value; doubled for each further loss in a row, up to a minute.
   */
  reclaimMs?: number;
}

/** The longest wait between two reclaims of a lost line, and how long a line must stay held for the wait to start over. */
const MAX_RECLAIM_MS = 60_000;

/**
 * LEDs on the GPIO character device (/dev/gpiochipN), for kernels without sysfs GPIO (Raspberry
 * Pi OS Trixie), through the libgpiod command-line tools of Debian's `gpiod` package:
 * `gpioinfo` finds the header chip by its line names, and one `gpioset` per LED holds that line
 * at its value for as long as it runs.
 *
 * Why the tools and not a native addon: the character device keeps a line's value only while a
 * process holds its file descriptor, and Node cannot make the GPIO ioctls itself. The addons that
 * could (node-libgpiod, opengpio) compile against libgpiod's headers, whose API changed
 * incompatibly between 1.6 (Bookworm) and 2.x (Trixie), so each needs a compiler, libgpiod-dev and
 * an install script on the device, and one build fits one OS release. The tools are one apt
 * package on both releases, need nothing from npm, and differ only in gpioset's arguments:
 * 1.x `gpioset --mode=wait CHIP OFFSET=V` holds until its standard input closes or it is
 * signalled (by default 1.x sets and exits, releasing the line); 2.x holds by default and
 * `--banner` says when it does. Changing an LED restarts only that LED's gpioset; close() ends
 * them all, which releases every line.
 */
export class GpiodLedDriver implements LedDriver {
  readonly #logger: Logger;
  readonly #spawn: SpawnTool;
  readonly #settleMs: number;
  readonly #timeoutMs: number;
  readonly #reclaimMs: number;
  readonly #holders = new Map<number, LineHolder>();

  constructor(options: GpiodDriverOptions) {
    this.#logger = options.logger;
    this.#spawn = options.spawn ?? spawnTool;
    this.#settleMs = options.settleMs ?? 250;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#reclaimMs = options.reclaimMs ?? 1000;
  }

  async open(pins: readonly number[]): Promise<void> {
    if (this.#holders.size > 0) throw new Error('LED pins are already open; close() first');
    const version = await readToolsVersion(this.#spawn);
    const header = findHeaderChip(await readChipLines(this.#spawn), pins);
    const chip = header.chip.name;
    for (const pin of pins) {
      const line = header.lineOf(pin);
      if (line.used) throw lineInUse(pin, chip, line);
    }
    this.#logger.info({ chip, libgpiod: version.text, pins: [...pins] }, 'GPIO header chip found');
    const context: HolderContext = {
      spawn: this.#spawn,
      logger: this.#logger,
      version,
      chip,
      settleMs: this.#settleMs,
      timeoutMs: this.#timeoutMs,
      reclaimMs: this.#reclaimMs,
    };
    for (const pin of pins) this.#holders.set(pin, new LineHolder(pin, header.lineOf(pin).offset, context));
    const claims = await Promise.allSettled([...this.#holders.values()].map((holder) => holder.claim()));
    const failed = claims.find((claim): claim is PromiseRejectedResult => claim.status === 'rejected');
    if (failed) {
      // Release what was claimed so a retry (or another program) finds the lines free.
      await this.close();
      throw failed.reason;
    }
  }

  set(pin: number, on: boolean): void {
    const holder = this.#holders.get(pin);
    if (!holder) throw new Error(`LED pin ${pin} was not opened`);
    holder.set(on);
  }

  async close(): Promise<void> {
    const holders = [...this.#holders.values()];
    this.#holders.clear();
    await Promise.all(holders.map((holder) => holder.release()));
  }
}

interface HolderContext {
  spawn: SpawnTool;
  logger: Logger;
  version: GpiodToolsVersion;
  chip: string;
  settleMs: number;
  timeoutMs: number;
  reclaimMs: number;
}

/**
 * One LED's line, held by one gpioset at a time. set() only records the wanted value; one change
 * at a time stops the running gpioset (which releases the line) and starts one with the new
 * value, so a fast blink coalesces instead of piling up processes. A gpioset that ends on its own
 * is replaced after a backoff: the status LED is written rarely, and would otherwise stay dark
 * until the next change.
 */
class LineHolder {
  readonly #pin: number;
  readonly #offset: number;
  readonly #context: HolderContext;
  #tool: ToolProcess | undefined;
  #exited: Promise<ToolExit> | undefined;
  /** The gpioset being stopped on purpose, whose exit is no news. */
  #stopping: ToolProcess | undefined;
  /** The value the running gpioset holds; undefined when none runs. */
  #held: boolean | undefined;
  #wanted = false;
  #queued = false;
  #work: Promise<void> = Promise.resolve();
  /** Whether a failure was logged since a gpioset last held the line; repeats are not. */
  #warned = false;
  /** When the running gpioset began holding the line (performance.now()); undefined while none holds it. */
  #holdingSince: number | undefined;
  /** Lines lost in a row, each without a minute of holding in between: the reclaim backoff's exponent. */
  #losses = 0;
  /** Whether the line was lost (its gpioset ended on its own) and no gpioset has held it since. */
  #lost = false;
  #reclaimTimer: NodeJS.Timeout | undefined;
  #released = false;

  constructor(pin: number, offset: number, context: HolderContext) {
    this.#pin = pin;
    this.#offset = offset;
    this.#context = context;
  }

  /** Holds the line at off; rejects with the tool's reason when the line cannot be claimed. */
  claim(): Promise<void> {
    return this.#start(false, true);
  }

  set(on: boolean): void {
    this.#wanted = on;
    this.#queueApply();
  }

  /** Brings the line to the wanted value after the changes queued before, unless one is already queued. */
  #queueApply(): void {
    if (this.#queued) return;
    this.#queued = true;
    // A change that throws (the tool cannot even be started) is logged, and later ones still run.
    this.#work = this.#work.then(() => this.#apply()).catch((error: unknown) => this.#report(error, 'cannot set LED'));
  }

  /**
   * Stops the gpioset, releasing the line, once the writes made before are applied: a kernel that
   * keeps a released output's level (Raspberry Pi kernels do by default) then shows the last one,
   * so the LEDs the indicators turned off before closing stay off.
   */
  async release(): Promise<void> {
    this.#released = true;
    clearTimeout(this.#reclaimTimer);
    await this.#work;
    await this.#stop();
  }

  async #apply(): Promise<void> {
    this.#queued = false;
    if (this.#wanted === this.#held) return;
    await this.#stop();
    await this.#start(this.#wanted, false);
  }

  /**
   * Starts a gpioset holding the line at `on`. It counts as holding the line once libgpiod 2.x
   * prints its banner, or once a 1.x one has run for settleMs. With `untilHeld` the promise waits
   * for that and rejects if the tool ends first (a claim); without, it resolves at once, so a blink
   * is not slowed down, and a failure is logged when the tool ends.
   */
  #start(on: boolean, untilHeld: boolean): Promise<void> {
    const { spawn, version, chip, settleMs, timeoutMs } = this.#context;
    clearTimeout(this.#reclaimTimer);
    this.#holdingSince = undefined;
    const tool = spawn('gpioset', gpiosetArgs(version.major, chip, this.#offset, on));
    this.#tool = tool;
    this.#held = on;
    let stderr = '';
    tool.onStderr((text) => (stderr += text));

    let started = false;
    let holding = false;
    let timer: NodeJS.Timeout | undefined;
    let resolveStart: () => void = () => undefined;
    let rejectStart: (error: GpioError) => void = () => undefined;
    const start = new Promise<void>((resolve, reject) => {
      resolveStart = resolve;
      rejectStart = reject;
    });
    const finishStart = (error?: GpioError): void => {
      if (started) return;
      started = true;
      if (error) rejectStart(error);
      else resolveStart();
    };
    const nowHolding = (): void => {
      if (holding) return;
      holding = true;
      clearTimeout(timer);
      this.#warned = false;
      this.#lost = false;
      this.#holdingSince = performance.now();
      finishStart();
    };

    this.#exited = new Promise<ToolExit>((ended) =>
      tool.onExit((exit) => {
        clearTimeout(timer);
        ended(exit);
        if (this.#tool === tool) {
          this.#tool = undefined;
          this.#held = undefined;
        }
        if (this.#stopping === tool) {
          finishStart();
          return;
        }
        const failure = claimFailure(this.#pin, chip, this.#offset, { exit, stderr });
        if (!started) finishStart(failure);
        else this.#report(failure, holding ? 'LED line released: its gpioset ended' : 'cannot set LED');
        // Until a gpioset holds the line again, every failure schedules the next reclaim.
        if (holding) this.#lost = true;
        if (this.#lost) this.#reclaimLater();
      }),
    );
    if (version.major === 1) {
      timer = setTimeout(nowHolding, settleMs);
    } else {
      let banner = '';
      tool.onStdout((text) => {
        banner += text;
        if (banner.includes('\n')) nowHolding();
      });
      timer = setTimeout(() => {
        stderr ||= `gpioset did not report holding the line within ${timeoutMs} ms`;
        tool.kill('SIGKILL');
      }, timeoutMs);
    }
    if (!untilHeld) finishStart();
    return start;
  }

  /**
   * Claims the line again at the wanted value once a backoff has passed: reclaimMs after a
   * line held for a minute or more was lost, doubling with each loss in a row up to a minute,
   * so a gpioset that dies at once does not respawn in a tight loop. A write meanwhile claims it
   * at once, as any write does.
   */
  #reclaimLater(): void {
    if (this.#released) return;
    const heldFor = this.#holdingSince === undefined ? 0 : performance.now() - this.#holdingSince;
    this.#losses = heldFor >= MAX_RECLAIM_MS ? 1 : this.#losses + 1;
    const delay = Math.min(this.#context.reclaimMs * 2 ** (this.#losses - 1), MAX_RECLAIM_MS);
    clearTimeout(this.#reclaimTimer);
    this.#reclaimTimer = setTimeout(() => this.#queueApply(), delay).unref();
  }

  /** Logs a failure of this LED's line once; repeats are not logged until a gpioset holds it again. */
  #report(failure: unknown, message: string): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#context.logger.warn({ err: failure, pin: this.#pin }, message);
  }

  /** Ends the running gpioset, if any, and waits until it has (SIGKILL if SIGTERM is not enough). */
  async #stop(): Promise<void> {
    const tool = this.#tool;
    const exited = this.#exited;
    if (!tool || !exited) return;
    this.#stopping = tool;
    tool.kill('SIGTERM');
    if (!(await within(exited, this.#context.timeoutMs))) {
      tool.kill('SIGKILL');
      if (!(await within(exited, this.#context.timeoutMs))) {
        this.#context.logger.warn({ pin: this.#pin }, 'gpioset did not exit after SIGKILL; its LED line may stay claimed');
      }
    }
    this.#tool = undefined;
    this.#held = undefined;
    this.#exited = undefined;
  }
}

/**
 * gpioset's arguments to hold one line at a value until it is signalled: libgpiod 1.x sets and
 * exits by default, so `--mode=wait` (hold until standard input closes, which also ends it if the
 * agent dies); 2.x holds by default, `--banner` says when it does, `--consumer` names the holder.
 */
export function gpiosetArgs(major: number, chip: string, offset: number, on: boolean): string[] {
  const value = `${offset}=${on ? 1 : 0}`;
  return major === 1 ? ['--mode=wait', chip, value] : ['--banner', `--consumer=${GPIOD_CONSUMER}`, '--chip', chip, value];
}

/** Whether `promise` settled within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function where(pin: number, chip: string, offset: number): string {
  return `BCM pin ${pin} (${chip} line ${offset})`;
}

/** A requested line that gpioinfo already shows as held, naming the holder and the usual fix. */
function lineInUse(pin: number, chip: string, line: GpioLineInfo): GpioError {
  const holder = line.consumer ?? 'kernel';
  const advice =
    holder === 'gpioset' || holder === GPIOD_CONSUMER
      ? 'a gpioset process holds it, perhaps left by an earlier run of the agent: stop it (`ps -C gpioset -f`)'
      : 'free it (a dtoverlay or dtparam such as spi=on claims pins) or choose another pin in gpio.pins / gpio.statusPin';
  return new GpioError(`cannot claim ${where(pin, chip, line.offset)}: it is in use by "${holder}"; ${advice}`, { pin });
}

/** A gpioset that ended without being told to, as an error naming the pin and the usual fix. */
function claimFailure(pin: number, chip: string, offset: number, result: { exit: ToolExit; stderr: string }): GpioError {
  const said = toolMessage(result);
  let advice = permissionAdvice(result.stderr);
  if (!advice && /busy/i.test(result.stderr)) {
    advice =
      '. The line is in use (EBUSY) by a kernel driver (a dtoverlay) or another program: see `gpioinfo`, ' +
      'free it, or choose another pin in gpio.pins / gpio.statusPin';
  }
  const message = `cannot claim ${where(pin, chip, offset)}: gpioset: ${said}${advice}`;
  return new GpioError(message, result.exit.error ? { pin, cause: result.exit.error } : { pin });
}
