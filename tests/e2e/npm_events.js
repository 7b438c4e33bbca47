// Packages, triggers, rules and feeds through the npm `openwhisk` client, unchanged.
// Prints one JSON object with what it saw; the pytest side checks it.
const openwhisk = require('openwhisk');

async function attempt(promise) {
  try {
    return { ok: await promise };
  } catch (err) {
    return { statusCode: err.statusCode, message: err.message };
  }
}

async function until(check, what) {
  const deadline = Date.now() + 60000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise(resolve => setTimeout(resolve, 200));
  }
}

async function main() {
  const [apihost, apiKey, name] = process.argv.slice(2);
  const ow = openwhisk({ apihost, api_key: apiKey });
  const code = "def main(args):\n    return args\n";
  const seen = {};

  // packages: create, bind the public utils, actions inside
  seen.pkg = await ow.packages.create({ name, package: { publish: true, parameters: [{ key: 'p', value: 'pkg' }] } });
  await ow.actions.create({ name: `${name}/echo`, action: code, kind: 'python:default' });
  seen.binding = await ow.packages.create({ name: `${name}-utils`, package: { binding: { namespace: 'whisk.system', name: 'utils' } } });
  seen.pkgGet = await ow.packages.get({ name });
  seen.pkgList = (await ow.packages.list()).map(p => p.name);
  seen.publicList = (await ow.packages.list({ namespace: 'whisk.system' })).map(p => p.name);
  seen.viaBinding = await ow.actions.invoke({ name: `${name}-utils/sort`, blocking: true, result: true, params: { lines: ['b', 'a'] } });
  seen.notEmpty = await attempt(ow.packages.delete({ name }));

  // triggers and rules
  seen.trigger = await ow.triggers.create({ name: `${name}-t`, trigger: { parameters: [{ key: 't', value: 1 }] } });
  seen.rule = await ow.rules.create({ name: `${name}-r`, trigger: `${name}-t`, action: `${name}/echo` });
  seen.ruleToPublic = await ow.rules.create({ name: `${name}-r2`, trigger: `${name}-t`, action: '/whisk.system/utils/echo' });
  seen.fired = await ow.triggers.invoke({ name: `${name}-t`, params: { hello: 'world' } });
  seen.triggerRecord = await until(async () => {
    const found = await attempt(ow.activations.get({ name: seen.fired.activationId }));
    return found.ok;
  }, 'the trigger record');
  await ow.rules.disable({ name: `${name}-r` });
  seen.disabled = (await ow.rules.get({ name: `${name}-r` })).status;
  await ow.rules.enable({ name: `${name}-r` });
  seen.enabled = (await ow.rules.get({ name: `${name}-r` })).status;
  seen.badRule = await attempt(ow.rules.create({ name: `${name}-bad`, trigger: `${name}-none`, action: `${name}/echo` }));

  // feeds: an alarm every two seconds on a second trigger
  await ow.triggers.create({ name: `${name}-alarm`, trigger: { annotations: [{ key: 'feed', value: '/whisk.system/alarms/alarm' }] } });
  seen.badFeed = await attempt(ow.feeds.create({ name: '/whisk.system/alarms/alarm', trigger: `${name}-alarm`, params: { cron: 'not a cron' } }));
  const created = await ow.feeds.create({ name: '/whisk.system/alarms/alarm', trigger: `${name}-alarm`, params: { cron: '*/2 * * * * *', trigger_payload: { from: 'alarm' } } });
  seen.feedCreated = created.response.success;
  seen.feedRead = (await ow.feeds.get({ name: '/whisk.system/alarms/alarm', trigger: `${name}-alarm` })).response.result;
  seen.feedDeleted = (await ow.feeds.delete({ name: '/whisk.system/alarms/alarm', trigger: `${name}-alarm` })).response.success;
  seen.feedReadAfter = await attempt(ow.feeds.get({ name: '/whisk.system/alarms/alarm', trigger: `${name}-alarm` }));

  // a trigger deleted before its rule
  await ow.triggers.delete({ name: `${name}-t` });
  seen.orphan = (await ow.rules.get({ name: `${name}-r` })).status;
  seen.ruleDeleted = await ow.rules.delete({ name: `${name}-r` });
  await ow.rules.delete({ name: `${name}-r2` });
  await ow.triggers.delete({ name: `${name}-alarm` });
  await ow.packages.delete({ name: `${name}-utils` });
  await ow.actions.delete({ name: `${name}/echo` });
  seen.pkgDeleted = await ow.packages.delete({ name });
  console.log(JSON.stringify(seen));
}

main().catch(err => { console.error(err.stack || String(err)); process.exit(1); });
