import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/index';
import { createBackbone } from '../backbone/index';
import { ParamScope } from '../params';
import { encodeSafetensors, loadCheckpoint, loadSafetensors, parseSafetensors, saveCheckpoint } from './index';

let dir: string;
beforeAll(async () => {
  await initBackend({ quiet: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-ckpt-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function smokeModel(seed: number, arch = 'resnet-smoke'): ParamScope {
  const root = ParamScope.root(seed);
  createBackbone(root.child('backbone'), arch);
  root.child('head').variable('weight', [4, 3], { kind: 'truncatedNormal', std: 0.02 });
  return root;
}

describe('checkpoints', () => {
  it('round-trips every variable (parameters and buffers) bit for bit, with metadata', () => {
    const a = smokeModel(1);
    // Make a buffer non-default so buffers are proven to travel too.
    a.registry.get('backbone.bn1.running_var')!.assign(tf.fill([8], 2.5));
    const file = path.join(dir, 'a.safetensors');
    const { tensors } = saveCheckpoint(file, a.registry, { step: '7' });
    expect(tensors).toBe(a.registry.size);
    const b = smokeModel(2);
    expect(b.registry.get('head.weight')!.dataSync()).not.toEqual(a.registry.get('head.weight')!.dataSync());
    const { metadata } = loadCheckpoint(file, b.registry);
    expect(metadata).toEqual({ step: '7' });
    for (const [name, v] of a.registry) expect(b.registry.get(name)!.dataSync(), name).toEqual(v.dataSync());
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a checkpoint of another architecture, listing the names and shapes that differ, and assigns nothing', () => {
    const file = path.join(dir, 'x.safetensors');
    saveCheckpoint(file, smokeModel(1, 'resnext-smoke').registry);
    const target = smokeModel(3, 'resnet-smoke');
    const before = target.registry.get('backbone.conv1.weight')!.dataSync().slice();
    let msg = '';
    try {
      loadCheckpoint(file, target.registry);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/does not match this model/);
    expect(msg).toMatch(/\d+ unexpected, \d+ shape/);
    expect(msg).toMatch(/unexpected\s+backbone\.layer2\.1\.bn1\.bias/); // resnext-smoke has 2 blocks in layer2
    expect(msg).toMatch(/shape\s+backbone\.layer1\.0\.conv2\.weight: file has \[3,3,4,16\], model expects \[3,3,8,8\]/);
    expect(target.registry.get('backbone.conv1.weight')!.dataSync()).toEqual(before);
  });

  it('detects corruption by checksum', () => {
    const file = path.join(dir, 'c.safetensors');
    saveCheckpoint(file, smokeModel(1).registry);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    expect(() => loadCheckpoint(file, smokeModel(1).registry)).toThrow(/checksum mismatch/);
  });

  it('refuses a safetensors file that is not a checkpoint', () => {
    const file = path.join(dir, 'plain.safetensors');
    fs.writeFileSync(file, encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [1], values: new Float32Array([1]) }]));
    expect(() => loadCheckpoint(file, smokeModel(1).registry)).toThrow(/not a Pixel-BERT checkpoint/);
    expect(() => loadCheckpoint(path.join(dir, 'nope.safetensors'), smokeModel(1).registry)).toThrow(/cannot read.*nope\.safetensors/);
  });
});

describe('safetensors reader', () => {
  const good = encodeSafetensors(
    [
      { name: 'a', dtype: 'F32', shape: [2, 2], values: new Float32Array([1, 2, 3, 4]) },
      { name: 'b', dtype: 'I32', shape: [3], values: new Int32Array([7, -1, 5]) },
    ],
    { note: 'x' },
  );

  it('reads what it wrote, with the data 8-byte aligned', () => {
    const st = parseSafetensors(good, 'mem');
    expect(st.metadata).toEqual({ note: 'x' });
    expect(Array.from(st.read('a').values)).toEqual([1, 2, 3, 4]);
    expect(Array.from(st.read('b', 'int32').values)).toEqual([7, -1, 5]);
    const headerLen = Number(new DataView(good.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
  });

  it('decodes F16, BF16, F64 and I64 as written by other tools', () => {
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      bf: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] },
      d: { dtype: 'F64', shape: [1], data_offsets: [6, 14] },
      l: { dtype: 'I64', shape: [1], data_offsets: [14, 22] },
    });
    const hb = Buffer.from(header);
    const buf = new Uint8Array(8 + hb.length + 22);
    const dv = new DataView(buf.buffer);
    dv.setBigUint64(0, BigInt(hb.length), true);
    buf.set(hb, 8);
    const o = 8 + hb.length;
    dv.setUint16(o, 0x3c00, true); // 1.0
    dv.setUint16(o + 2, 0xc000, true); // -2.0
    dv.setUint16(o + 4, 0x4049, true); // bf16 3.140625
    dv.setFloat64(o + 6, 0.1, true);
    dv.setBigInt64(o + 14, -12345n, true);
    const st = parseSafetensors(buf, 'mem');
    expect(Array.from(st.read('h').values)).toEqual([1, -2]);
    expect(st.read('bf').values[0]).toBeCloseTo(3.140625, 6);
    expect(st.read('d').values[0]).toBeCloseTo(0.1, 7);
    expect(Array.from(st.read('l', 'int32').values)).toEqual([-12345]);
  });

  it('fails loudly on truncated or inconsistent files, naming the file and tensor', () => {
    expect(() => parseSafetensors(good.subarray(0, 5), 'f.st')).toThrow(/f\.st: not a valid safetensors file: 5 bytes/);
    expect(() => parseSafetensors(good.subarray(0, good.length - 4), 'f.st')).toThrow(/tensor "b": data_offsets \[16, 28\] lie outside/);
    const bad = Buffer.from(good);
    bad.write('[', 8); // the header's opening brace becomes a bracket
    expect(() => parseSafetensors(bad, 'f.st')).toThrow(/header is not UTF-8 JSON/);
    const hb = Buffer.from(JSON.stringify({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }));
    const buf = new Uint8Array(8 + hb.length + 8);
    new DataView(buf.buffer).setBigUint64(0, BigInt(hb.length), true);
    buf.set(hb, 8);
    expect(() => parseSafetensors(buf, 'f.st')).toThrow(/tensor "a": 8 bytes for F32\[3\] \(expected 12\)/);
    expect(() => loadSafetensors('/nonexistent/x.safetensors')).toThrow(/cannot read safetensors file \/nonexistent/);
  });
});
