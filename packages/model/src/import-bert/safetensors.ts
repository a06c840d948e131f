import { readFileSync } from 'node:fs';

/**
 * A minimal safetensors reader (format: 8-byte little-endian header length, a JSON
 * header `{name: {dtype, shape, data_offsets: [begin, end]}}`, then the raw bytes),
 * enough for the BERT importer. F32, F16 and BF16 become Float32Array.
 * Every malformed piece is reported with the file and the tensor's name.
 */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

export function readSafetensors(file: string): Map<string, NamedArray> {
  const buf = readFileSync(file);
  if (buf.length < 8) throw new Error(`${file}: not a safetensors file (${buf.length} bytes, need an 8-byte header length)`);
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (8 + headerLen > buf.length) {
    throw new Error(`${file}: header length ${headerLen} runs past the end of the file (${buf.length} bytes)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: header is not valid JSON (${(e as Error).message})`);
  }
  const body = buf.subarray(8 + headerLen);
  const out = new Map<string, NamedArray>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const [begin, end] = data_offsets;
    if (!(begin >= 0 && end >= begin && end <= body.length)) {
      throw new Error(`${file}: tensor "${name}" has data_offsets [${begin}, ${end}] outside the ${body.length}-byte data section`);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    const bytes = body.subarray(begin, end);
    const width = dtype === 'F32' ? 4 : dtype === 'F16' || dtype === 'BF16' ? 2 : 0;
    if (width === 0) {
      if (dtype === 'I64' || dtype === 'I32') continue; // integer buffers (e.g. position_ids) carry no weights
      throw new Error(`${file}: tensor "${name}" has dtype ${dtype}; expected F32, F16 or BF16`);
    }
    if (bytes.length !== n * width) {
      throw new Error(`${file}: tensor "${name}" of shape [${shape.join(', ')}] ${dtype} needs ${n * width} bytes, has ${bytes.length}`);
    }
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (dtype === 'F32') data[i] = bytes.readFloatLE(4 * i);
      else if (dtype === 'BF16') data[i] = bf16ToF32(bytes.readUInt16LE(2 * i));
      else data[i] = f16ToF32(bytes.readUInt16LE(2 * i));
    }
    out.set(name, { shape, data });
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function bf16ToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
