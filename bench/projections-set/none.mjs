/** Reads every event and writes nothing: what a rebuild costs before any read-model write (the ceiling of any speed-up). */
export default {
  name: 'none',
  version: 1,
  reset() {},
  batch() {},
};
