import { describe, expect, it } from 'vitest';
import { TrackingInputError } from './errors';
import { checkMetricValue, checkName, checkStep, fromWireNumber, toWireNumber } from './limits';
import { flattenParams } from './flatten';

describe('names MLflow accepts', () => {
  it('accepts MLflow name characters', () => {
    for (const n of ['loss', 'train/loss', 'vqa.score@1'.replace('@', '_'), 'a-b c:d', 'größe']) expect(checkName('metric', n, 't')).toBe(n);
  });
  it('refuses other characters, path tricks and over-long names, naming the key', () => {
    expect(() => checkName('param', 'lr*2', 'logParams')).toThrow(/logParams: param name "lr\*2" has characters MLflow refuses/);
    expect(() => checkName('metric', 'a/../b', 'x')).toThrow(TrackingInputError);
    expect(() => checkName('metric', '/abs', 'x')).toThrow(/clean relative path/);
    expect(() => checkName('tag', 'k'.repeat(251), 'x')).toThrow(/at most 250/);
    expect(() => checkName('tag', '', 'x')).toThrow(/non-empty/);
  });
});

describe('metric values', () => {
  it('round-trips NaN and infinities through the wire form MLflow uses', () => {
    expect(toWireNumber(NaN)).toBe('NaN');
    expect(toWireNumber(-Infinity)).toBe('-Infinity');
    expect(toWireNumber(1.5)).toBe(1.5);
    expect(fromWireNumber('Infinity')).toBe(Infinity);
    expect(Number.isNaN(fromWireNumber('NaN'))).toBe(true);
  });
  it('refuses non-numeric values and bad steps with the key in the message', () => {
    expect(() => checkMetricValue('loss', '0.5', 'logMetrics')).toThrow(/metric 'loss' must be a number .* got string "0.5"/);
    expect(() => checkMetricValue('loss', null, 'logMetrics')).toThrow(TrackingInputError);
    expect(() => checkStep(-1, 'logMetrics')).toThrow(/non-negative integer/);
    expect(() => checkStep(1.5, 'logMetrics')).toThrow(/non-negative integer/);
  });
});

describe('flattenParams', () => {
  it('joins nested keys, keeps scalar arrays as JSON and indexes arrays of objects', () => {
    expect(
      flattenParams({ model: { layers: 2, backbone: 'r18', pool: null }, tasks: ['mlm', 'itm'], stages: [{ name: 'vqa' }], empty: {} }),
    ).toEqual({
      'model.layers': '2',
      'model.backbone': 'r18',
      'model.pool': 'null',
      tasks: '["mlm","itm"]',
      'stages.0.name': 'vqa',
      empty: '{}',
    });
  });
});
