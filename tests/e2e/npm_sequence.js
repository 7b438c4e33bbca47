// Creates and invokes a sequence with the npm `openwhisk` client, unchanged, the way an application would.
// Prints one JSON object with what it saw; the pytest side checks it.
const openwhisk = require('openwhisk');

async function main() {
  const [apihost, apiKey, name] = process.argv.slice(2);
  const ow = openwhisk({ apihost, api_key: apiKey });
  const add = "def main(args):\n    return {'value': args.get('value', 0) + 1}\n";
  const double = "def main(args):\n    return {'value': args['value'] * 2}\n";
  const seen = {};
  await ow.actions.create({ name: `${name}-add`, action: add, kind: 'python:default' });
  await ow.actions.create({ name: `${name}-double`, action: double, kind: 'python:default' });
  seen.created = await ow.actions.create({ name, sequence: [`/_/${name}-add`, `/_/${name}-double`, `/_/${name}-add`] });
  seen.got = await ow.actions.get({ name });
  seen.blocking = await ow.actions.invoke({ name, blocking: true, result: true, params: { value: 4 } });
  const full = await ow.actions.invoke({ name, blocking: true, params: { value: 1 } });
  seen.fullLogs = full.logs;
  seen.fullAnnotations = full.annotations;
  seen.nonBlocking = await ow.actions.invoke({ name, params: { value: 10 } });
  seen.later = await waitFor(ow, seen.nonBlocking.activationId);
  seen.component = await ow.activations.get({ name: seen.later.logs[0] });
  try {
    await ow.actions.create({ name: `${name}-bad`, sequence: [`/_/${name}-missing`] });
  } catch (err) {
    seen.badError = { statusCode: err.statusCode, message: err.message };
  }
  seen.updated = await ow.actions.update({ name, sequence: [`/_/${name}-double`] });
  seen.afterUpdate = await ow.actions.invoke({ name, blocking: true, result: true, params: { value: 3 } });
  seen.deleted = await ow.actions.delete({ name });
  await ow.actions.delete({ name: `${name}-add` });
  await ow.actions.delete({ name: `${name}-double` });
  console.log(JSON.stringify(seen));
}

async function waitFor(ow, activationId) {
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      return await ow.activations.get({ name: activationId });
    } catch (err) {
      if (err.statusCode !== 404 || Date.now() > deadline) throw err;
    }
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

main().catch(err => { console.error(err.stack || String(err)); process.exit(1); });
