import { describe, expect, it } from 'vitest';
import { captionDifference } from './difference';

const w = (s: string) => s.split(' ');

describe('captionDifference', () => {
  it('names the one attribute kind in which two captions differ', () => {
    expect(captionDifference(w('The circle is colored green.'), w('The circle is colored red.'))).toBe('colour');
    expect(captionDifference(w('The purple object is a cross.'), w('The purple object is a square.'))).toBe('shape');
    expect(captionDifference(w('A small red cross'), w('A large red cross'))).toBe('size');
    expect(captionDifference(w('There is a striped blue square'), w('There is a blue square'))).toBe('texture');
    expect(captionDifference(w('The green cross is above the red square.'), w('The green cross is below the red square.'))).toBe('relation');
    expect(captionDifference(w('The green cross is to the left of the red square.'), w('The green cross is to the right of the red square.'))).toBe('relation');
  });
  it('reads shape plurals as their shape, so one against two circles is a count', () => {
    expect(captionDifference(w('One circle on a gray background.'), w('Two circles on a gray background.'))).toBe('count');
    expect(captionDifference(w('One cross on a gray background.'), w('Two crosses on a gray background.'))).toBe('count');
  });
  it('names the coarsest kind when several differ (count, shape, colour, size, texture, relation)', () => {
    expect(captionDifference(w('The circle is colored green.'), w('The square is colored red.'))).toBe('shape');
    expect(captionDifference(w('There is one red object.'), w('There are two blue objects.'))).toBe('count');
    expect(captionDifference(w('A small striped red cross'), w('A large blue cross'))).toBe('colour');
  });
  it('tells a swap from template words', () => {
    expect(captionDifference(w('The green cross is above the red square.'), w('The red square is above the green cross.'))).toBe('order');
    expect(captionDifference(w('A picture of a red cross.'), w('There is a red cross.'))).toBe('wording');
  });
});
