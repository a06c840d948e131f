import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A small reader/writer for the safetensors format (Hugging Face): 8-byte little-endian header
 * length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
 * {string: string}}`, then the raw little-endian tensor bytes (offsets relative to their start).
 * Used for PyTorch imports (torchvision, BERT) and, with a checksum in the metadata, for this
 * project's own checkpoints.
 */

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range within the data section. */
  begin: number;
  end: number;
}

export class SafetensorsFile {
  constructor(
    /** Where it came from, for error messages. */
    readonly source: string,
    readonly metadata: Record<string, string>,
    readonly entries: Map<string, SafetensorsEntry>,
    private readonly data: Uint8Array,
  ) {}

  names(): string[] {
    return [...this.entries.keys()];
  }

  entry(name: string): SafetensorsEntry {
    const e = this.entries.get(name);
    if (!e) throw new Error(`${this.source}: no tensor named "${name}"`);
    return e;
  }

  /** Raw bytes of one tensor (a view; copy before keeping). */
  bytes(name: string): Uint8Array {
    const e = this.entry(name);
    return this.data.subarray(e.begin, e.end);
  }

  /** The data section, as written (what the checkpoint checksum covers). */
  dataSection(): Uint8Array {
    return this.data;
  }

  /**
   * Values as float32 (F64/F16/BF16 converted; integer types converted exactly while they fit
   * in 2^24) or, with `as: 'int32'`, as int32 (I64 must fit in 32 bits).
   */
  read(name: string, as: 'float32' | 'int32' = 'float32'): { shape: number[]; values: Float32Array | Int32Array } {
    const e = this.entry(name);
    const b = this.bytes(name);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const n = (e.end - e.begin) / BYTES[e.dtype];
    const out = as === 'int32' ? new Int32Array(n) : new Float32Array(n);
    const where = `${this.source}: tensor "${name}"`;
    for (let i = 0; i < n; i++) {
      let v: number;
      switch (e.dtype) {
        case 'F64': v = dv.getFloat64(i * 8, true); break;
        case 'F32': v = dv.getFloat32(i * 4, true); break;
        case 'F16': v = halfToFloat(dv.getUint16(i * 2, true)); break;
        case 'BF16': v = bf16ToFloat(dv.getUint16(i * 2, true)); break;
        case 'I64': {
          const big = dv.getBigInt64(i * 8, true);
          if (big > 2147483647n || big < -2147483648n) throw new Error(`${where}: I64 value ${big} at ${i} does not fit in int32`);
          v = Number(big);
          break;
        }
        case 'I32': v = dv.getInt32(i * 4, true); break;
        case 'I16': v = dv.getInt16(i * 2, true); break;
        case 'I8': v = dv.getInt8(i); break;
        case 'U8': case 'BOOL': v = dv.getUint8(i); break;
      }
      if (as === 'int32' && !Number.isInteger(v)) throw new Error(`${where}: value ${v} at ${i} is not an integer`);
      out[i] = v;
    }
    return { shape: [...e.shape], values: out };
  }
}

/** Reads and validates a .safetensors file (the whole file is read into memory). */
export function loadSafetensors(file: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read safetensors file ${file}: ${(e as Error).message}`);
  }
  return parseSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file);
}

export function parseSafetensors(buf: Uint8Array, source: string): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new Error(`${source}: not a valid safetensors file: ${msg}`);
  };
  if (buf.byteLength < 8) fail(`${buf.byteLength} bytes is shorter than the 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen > buf.byteLength - 8) fail(`header length ${headerLen} exceeds the file size ${buf.byteLength}`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const data = buf.subarray(8 + headerLen);
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) fail('__metadata__ is not an object');
      metadata = {};
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const r = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const at = `tensor "${name}"`;
    if (typeof r.dtype !== 'string' || !(r.dtype in BYTES)) fail(`${at}: dtype ${JSON.stringify(r.dtype)} is not one of ${Object.keys(BYTES).join(', ')}`);
    const dtype = r.dtype as SafetensorsDtype;
    if (!Array.isArray(r.shape) || !r.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`${at}: shape ${JSON.stringify(r.shape)} is not a list of non-negative integers`);
    const shape = r.shape as number[];
    const off = r.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0)) fail(`${at}: data_offsets ${JSON.stringify(off)} is not [begin, end]`);
    const [begin, end] = off as [number, number];
    if (begin > end || end > data.byteLength) fail(`${at}: data_offsets [${begin}, ${end}] lie outside the ${data.byteLength}-byte data section`);
    const want = shape.reduce((a, d) => a * d, 1) * BYTES[dtype];
    if (end - begin !== want) fail(`${at}: ${end - begin} bytes for ${dtype}[${shape}] (expected ${want})`);
    entries.set(name, { name, dtype, shape, begin, end });
  }
  return new SafetensorsFile(source, metadata, entries, data);
}

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'I32';
  shape: number[];
  values: Float32Array | Int32Array;
}

/** Serialises tensors (in the given order) to safetensors bytes. */
export function encodeSafetensors(tensors: TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, d) => a * d, 1);
    if (n !== t.values.length) throw new Error(`tensor "${t.name}": ${t.values.length} values for shape [${t.shape}]`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + n * 4] };
    offset += n * 4;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf-8');
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.byteLength;
  for (const t of tensors) {
    const b = new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength);
    out.set(b, p); // host is little-endian (x86, ARM), as safetensors requires
    p += b.byteLength;
  }
  return out;
}

/** Writes a file atomically: a temporary file in the same folder, fsync, then rename over `file`. */
export function writeFileAtomic(file: string, bytes: Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`cannot write ${file}: ${(e as Error).message}`);
  }
}

export function sha256Hex(...parts: (Uint8Array | string)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function bf16ToFloat(h: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, h << 16);
  return dv.getFloat32(0);
}
