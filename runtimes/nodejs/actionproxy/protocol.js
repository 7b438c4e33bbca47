'use strict';
// What the proxy, its launcher and the invoker agree on. The wording is the Python proxy's
// (runtimes/python/actionproxy/protocol.py) and OpenWhisk's, which clients and tests match on.

const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX';
// The launcher's line on stdout and stderr before each answer, when the proxy reads them (capture.js).
const FLUSHED = 'XXX_SQUALL_OUTPUT_FLUSHED_XXX';
// The proxy's first message to a spare launcher, answered in kind (runner.js, launcher.js).
const WARM_UP = 'warm-up';

const NO_CODE = 'Missing main/no code to execute.';
const REINIT = 'Cannot initialize the action more than once.';
const NOT_A_DICT = 'The action did not return a dictionary or array.';
// A /run whose body or `value` is neither an object nor an array: 404, as OpenWhisk's reference proxy.
const NOT_AN_ARGUMENT = 'The action did not receive a dictionary or array as an argument.';
const EXITED_ON_RUN = 'The action did not produce a valid response and exited unexpectedly.';
const NOT_INITIALIZED = 'Cannot run the action: it has not been initialized (POST /init first).';

/** Environment values are strings: strings raw, null/undefined empty, everything else compact JSON. */
function envString(value) {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}

module.exports = {
  SENTINEL, FLUSHED, WARM_UP, NO_CODE, REINIT, NOT_A_DICT, NOT_AN_ARGUMENT, EXITED_ON_RUN, NOT_INITIALIZED, envString,
};
