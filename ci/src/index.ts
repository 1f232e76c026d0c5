export * from './steps.js';
export * from './environments.js';
export * from './errors.js';
