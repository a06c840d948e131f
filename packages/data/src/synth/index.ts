// The generated world: scenes, their rendering, their text, and the writer of the real formats.
export * from './world';
export * from './render';
export * from './language';
export * from './sizes';
export * from './generate';
export * from './cells';
export * from './difference';
