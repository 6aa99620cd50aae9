/**
 * A complex FFT of a power-of-two size in WebAssembly with 128-bit SIMD, float64 throughout.
 *
 * Why WebAssembly: the FFT is over half of the feature time, and JavaScript FFTs (fft.js, and
 * hand-written radix-4 and split-radix ones) all land at about 8 us for 1024 points on the
 * development machine. Here one v128 holds one complex number (re, im), so every add is one
 * instruction for both parts, and memory accesses carry no bounds checks: about 3 us. float32
 * is not an option (too inaccurate in near-silent bands), and there is no WebAssembly text
 * assembler among the dependencies, so the module is assembled below from the few instructions
 * it uses.
 *
 * The algorithm is decimation in time, radix 4: a first pass reads the input in base-4
 * digit-reversed order (through a table) and does 4-point DFTs (2-point ones when the size is
 * an odd power of two), then each stage combines four transforms of size s into one of size
 * 4s, with twiddles stored per stage in the order the butterflies use them.
 */

// The binary encodings used: types, instructions and module structure (WebAssembly core spec 2.0, chapter 5).
const I32 = 0x7f;
const V128 = 0x7b;
const LOOP = 0x03;
const IF = 0x04;
const ELSE = 0x05;
const BLOCK = 0x02;
const END = 0x0b;
const EMPTY_BLOCK_TYPE = 0x40;
const BR_IF = 0x0d;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_LOAD = 0x28;
const I32_CONST = 0x41;
const I32_LT_U = 0x49;
const I32_GE_U = 0x4f;
const I32_ADD = 0x6a;
const I32_MUL = 0x6c;
const I32_SHL = 0x74;
const I32_SHR_U = 0x76;
const SIMD_PREFIX = 0xfd;
const V128_LOAD = 0x00;
const V128_STORE = 0x0b;
const V128_CONST = 0x0c;
const I8X16_SHUFFLE = 0x0d;
const F64X2_ADD = 0xf0;
const F64X2_SUB = 0xf1;
const F64X2_MUL = 0xf2;

type Code = number[];

function unsignedLeb(value: number): Code {
  const bytes: Code = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

/** Only small non-negative constants occur, which need the sign bit of the last byte clear. */
function signedLeb(value: number): Code {
  const bytes = unsignedLeb(value);
  if (((bytes[bytes.length - 1] as number) & 0x40) !== 0) {
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) | 0x80;
    bytes.push(0);
  }
  return bytes;
}

const vector = (items: Code[]): Code => [...unsignedLeb(items.length), ...items.flat()];
const section = (id: number, content: Code): Code => [id, ...unsignedLeb(content.length), ...content];
const name = (text: string): Code => vector([...Buffer.from(text)].map((byte) => [byte]));

const get = (local: number): Code => [LOCAL_GET, ...unsignedLeb(local)];
const set = (local: number): Code => [LOCAL_SET, ...unsignedLeb(local)];
const tee = (local: number): Code => [LOCAL_TEE, ...unsignedLeb(local)];
const i32 = (value: number): Code => [I32_CONST, ...signedLeb(value)];
const simd = (op: number): Code => [SIMD_PREFIX, ...unsignedLeb(op)];
const ADD: Code = [I32_ADD];
/** v128 accesses are aligned to 16 bytes (alignment hint 2^4). */
const loadV128 = (offset: number): Code => [...simd(V128_LOAD), 4, ...unsignedLeb(offset)];
const storeV128 = (offset: number): Code => [...simd(V128_STORE), 4, ...unsignedLeb(offset)];
const ADD_F64X2 = simd(F64X2_ADD);
const SUB_F64X2 = simd(F64X2_SUB);
const MUL_F64X2 = simd(F64X2_MUL);
const f64x2 = (low: number, high: number): Code => [
  ...simd(V128_CONST),
  ...new Uint8Array(Float64Array.of(low, high).buffer),
];
/** (re, im) -> (im, re). */
const swapped = (local: number): Code => [
  ...get(local),
  ...get(local),
  ...simd(I8X16_SHUFFLE),
  ...[8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7],
];
const loop = (...body: Array<Code | number>): Code => [LOOP, EMPTY_BLOCK_TYPE, ...body.flat(), END];

// Parameters (i32 byte addresses and sizes), then the other locals.
const INPUT = 0;
const OUTPUT = 1;
const BYTES = 2; // 16 bytes per complex number
const LEAF_TABLE = 3; // i32 byte offset of the first input of each first-pass DFT
const LEAF_COUNT = 4;
const TWIDDLES = 5;
const RADIX4_LEAVES = 6; // 1: the first pass does 4-point DFTs, 0: 2-point ones
const PARAMETER_COUNT = 7;
// Locals are numbered after the parameters: first the i32 ones, then the v128 ones.
const LEAF = 7;
const OUT = 8;
const AT = 9;
const STRIDE = 10;
const SPAN = 11;
const GROUP = 12;
const A = 13;
const SPAN_END = 14;
const TWIDDLE = 15;
const LENGTH = 16;
const GROUPS_END = 17;
const I32_LOCAL_COUNT = 11;
const VA = 18;
const VB = 19;
const VC = 20;
const VD = 21;
const T0 = 22;
const T1 = 23;
const T2 = 24;
const U = 25;
const CONJ = 26;
const V128_LOCAL_COUNT = 9;

/**
 * The 4-point DFT of VA..VD (VB..VD already twiddled), stored by store(k, value) for output k:
 * X0 = (a + c) + (b + d), X2 = (a + c) - (b + d), X1 and X3 = (a - c) -+ i (b - d).
 */
function dft4(store: (k: number, value: Code) => Code): Code {
  return [
    ...get(VA), ...get(VC), ...ADD_F64X2, ...set(T0),
    ...get(VA), ...get(VC), ...SUB_F64X2, ...set(T1),
    ...get(VB), ...get(VD), ...ADD_F64X2, ...set(T2),
    // U = -i (b - d) = (Im, -Re) of b - d.
    ...get(VB), ...get(VD), ...SUB_F64X2, ...set(U), ...swapped(U), ...get(CONJ), ...MUL_F64X2, ...set(U),
    ...store(0, [...get(T0), ...get(T2), ...ADD_F64X2]),
    ...store(1, [...get(T1), ...get(U), ...ADD_F64X2]),
    ...store(2, [...get(T0), ...get(T2), ...SUB_F64X2]),
    ...store(3, [...get(T1), ...get(U), ...SUB_F64X2]),
  ];
}

/**
 * local *= twiddle k of the butterfly at TWIDDLE, stored as (wRe, wRe), (-wIm, wIm) so that
 * the product is local * (wRe, wRe) + swapped(local) * (-wIm, wIm).
 */
const twiddle = (local: number, k: number): Code => [
  ...get(local), ...get(TWIDDLE), ...loadV128(32 * k), ...MUL_F64X2,
  ...swapped(local), ...get(TWIDDLE), ...loadV128(32 * k + 16), ...MUL_F64X2,
  ...ADD_F64X2, ...set(local),
];

/** AT = INPUT + LEAF_TABLE[LEAF]. */
const leafInput: Code = [
  ...get(INPUT), ...get(LEAF_TABLE), ...get(LEAF), ...i32(2), I32_SHL, ...ADD, I32_LOAD, 2, 0, ...ADD, ...set(AT),
];
const nextLeaf: Code = [...get(LEAF), ...i32(1), ...ADD, ...tee(LEAF), ...get(LEAF_COUNT), I32_LT_U, BR_IF, 0];
/** Address of input/output k of a butterfly at A whose four points are SPAN bytes apart. */
const point = (k: number): Code =>
  k === 0 ? get(A) : [...get(A), ...get(SPAN), ...(k === 1 ? [] : k === 2 ? [...i32(1), I32_SHL] : [...i32(3), I32_MUL]), ...ADD];

const FFT_BODY: Code = [
  ...f64x2(1, -1), ...set(CONJ),
  ...get(OUTPUT), ...set(OUT),
  ...get(RADIX4_LEAVES), IF, EMPTY_BLOCK_TYPE,
  ...get(BYTES), ...i32(2), I32_SHR_U, ...set(STRIDE),
  ...loop(
    leafInput,
    get(AT), loadV128(0), set(VA),
    get(AT), get(STRIDE), ADD, tee(AT), loadV128(0), set(VB),
    get(AT), get(STRIDE), ADD, tee(AT), loadV128(0), set(VC),
    get(AT), get(STRIDE), ADD, loadV128(0), set(VD),
    dft4((k, value) => [...get(OUT), ...value, ...storeV128(16 * k)]),
    get(OUT), i32(64), ADD, set(OUT),
    nextLeaf,
  ),
  ...i32(64), ...set(SPAN),
  ELSE,
  ...get(BYTES), ...i32(1), I32_SHR_U, ...set(STRIDE),
  ...loop(
    leafInput,
    get(AT), loadV128(0), set(VA),
    get(AT), get(STRIDE), ADD, loadV128(0), set(VB),
    get(OUT), get(VA), get(VB), ADD_F64X2, storeV128(0),
    get(OUT), get(VA), get(VB), SUB_F64X2, storeV128(16),
    get(OUT), i32(32), ADD, set(OUT),
    nextLeaf,
  ),
  ...i32(32), ...set(SPAN),
  END,
  // Stages: combine transforms of SPAN bytes into ones of LENGTH = 4 SPAN bytes.
  BLOCK, EMPTY_BLOCK_TYPE,
  ...get(SPAN), ...get(BYTES), I32_GE_U, BR_IF, 0,
  ...loop(
    get(SPAN), i32(2), I32_SHL, set(LENGTH),
    get(OUTPUT), set(GROUP),
    get(OUTPUT), get(BYTES), ADD, set(GROUPS_END),
    loop(
      get(GROUP), set(A),
      get(GROUP), get(SPAN), ADD, set(SPAN_END),
      get(TWIDDLES), set(TWIDDLE),
      loop(
        point(0), loadV128(0), set(VA),
        point(1), loadV128(0), set(VB),
        point(2), loadV128(0), set(VC),
        point(3), loadV128(0), set(VD),
        twiddle(VB, 0), twiddle(VC, 1), twiddle(VD, 2),
        dft4((k, value) => [...point(k), ...value, ...storeV128(0)]),
        get(TWIDDLE), i32(96), ADD, set(TWIDDLE),
        get(A), i32(16), ADD, tee(A), get(SPAN_END), I32_LT_U, BR_IF, 0,
      ),
      get(GROUP), get(LENGTH), ADD, tee(GROUP), get(GROUPS_END), I32_LT_U, BR_IF, 0,
    ),
    // The stage used SPAN / 16 butterflies of 96 twiddle bytes each.
    get(TWIDDLES), get(SPAN), i32(6), I32_MUL, ADD, set(TWIDDLES),
    get(LENGTH), tee(SPAN), get(BYTES), I32_LT_U, BR_IF, 0,
  ),
  END,
];

const SECTION_TYPE = 1;
const SECTION_IMPORT = 2;
const SECTION_FUNCTION = 3;
const SECTION_EXPORT = 7;
const SECTION_CODE = 10;
const FUNCTION_TYPE = 0x60;
const EXTERNAL_FUNCTION = 0x00;
const EXTERNAL_MEMORY = 0x02;
const LIMITS_MIN_ONLY = 0x00;

const FFT_FUNCTION: Code = [
  ...vector([[I32_LOCAL_COUNT, I32], [V128_LOCAL_COUNT, V128]]),
  ...FFT_BODY,
  END,
];

/** Imports env.memory, exports fft(input, output, bytes, leafTable, leafCount, twiddles, radix4Leaves). */
const MODULE_BYTES = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
  ...section(SECTION_TYPE, vector([[FUNCTION_TYPE, ...vector(Array.from({ length: PARAMETER_COUNT }, () => [I32])), 0]])),
  ...section(SECTION_IMPORT, vector([[...name('env'), ...name('memory'), EXTERNAL_MEMORY, LIMITS_MIN_ONLY, 1]])),
  ...section(SECTION_FUNCTION, vector([[0]])),
  ...section(SECTION_EXPORT, vector([[...name('fft'), EXTERNAL_FUNCTION, 0]])),
  ...section(SECTION_CODE, vector([[...unsignedLeb(FFT_FUNCTION.length), ...FFT_FUNCTION]])),
]);

/** The part of the WebAssembly JS API used here; Node's types leave it to lib.dom, which is not loaded. */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
}
const { WebAssembly } = globalThis as unknown as { WebAssembly: WebAssemblyApi };

let compiled: object | undefined;

type FftKernel = (
  input: number,
  output: number,
  bytes: number,
  leafTable: number,
  leafCount: number,
  twiddles: number,
  radix4Leaves: number,
) => void;

/**
 * The forward DFT X[k] = sum_n x[n] exp(-2 pi i k n / size) of `size` complex numbers, stored
 * interleaved (re, im): write x to `input`, call `transform`, read X from `output`. Each
 * instance owns its WebAssembly memory, so it is not re-entrant.
 */
export class WasmComplexFft {
  readonly size: number;
  readonly input: Float64Array;
  readonly output: Float64Array;
  /** Runs the kernel on this instance's memory layout. */
  readonly transform: () => void;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 2 || (size & (size - 1)) !== 0) {
      throw new RangeError(`WasmComplexFft: size is ${size}; use a power of two of at least 2`);
    }
    this.size = size;
    const radix4Leaves = Math.log2(size) % 2 === 0;
    const leafSize = radix4Leaves ? 4 : 2;

    // Digit reversal: a transform of size 4m takes the residues r = 0..3 of its input index
    // mod 4 as its four sub-transforms, stored one after the other.
    let order = Int32Array.of(0);
    while (order.length < size / leafSize) {
      const m = order.length;
      const next = new Int32Array(4 * m);
      for (let r = 0; r < 4; r++) {
        for (let i = 0; i < m; i++) next[r * m + i] = 4 * (order[i] as number) + r;
      }
      order = next;
    }
    const twiddles: number[] = [];
    for (let span = leafSize; span < size; span *= 4) {
      for (let j = 0; j < span; j++) {
        for (let k = 1; k <= 3; k++) {
          const angle = (-2 * Math.PI * j * k) / (4 * span);
          const cos = Math.cos(angle);
          const sin = Math.sin(angle);
          twiddles.push(cos, cos, -sin, sin);
        }
      }
    }

    const bytes = 16 * size;
    const outputAt = bytes;
    const leafTableAt = 2 * bytes;
    const twiddlesAt = leafTableAt + 16 * Math.ceil(order.length / 4);
    const memory = new WebAssembly.Memory({ initial: Math.ceil((twiddlesAt + 8 * twiddles.length) / 65536) });
    new Int32Array(memory.buffer, leafTableAt, order.length).set(order.map((index) => 16 * index));
    new Float64Array(memory.buffer, twiddlesAt, twiddles.length).set(twiddles);
    this.input = new Float64Array(memory.buffer, 0, 2 * size);
    this.output = new Float64Array(memory.buffer, outputAt, 2 * size);

    compiled ??= new WebAssembly.Module(MODULE_BYTES);
    const instance = new WebAssembly.Instance(compiled, { env: { memory } });
    const kernel = instance.exports.fft as FftKernel;
    const leafCount = order.length;
    const leafKind = radix4Leaves ? 1 : 0;
    this.transform = () => kernel(0, outputAt, bytes, leafTableAt, leafCount, twiddlesAt, leafKind);
  }
}
