'use strict';
// Turn the /init `code` (JavaScript text, or a base64 zip) into a folder Node can require().
//
// Zips are unpacked by the `unzip` command, as OpenWhisk's Node.js runtime does: Node has no zip
// reader built in, and unzip handles what npm puts in node_modules (zip64, symlinks, modes).

const childProcess = require('child_process');
const fs = require('fs');
const path = require('path');

const ZIP_MAGIC = Buffer.from('PK\x03\x04', 'latin1');
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const ENTRY_FILES = ['package.json', 'index.js'];

class SourceError extends Error {}

/** Write the action into a fresh folder under workDir; returns that folder. */
function materialise(code, binary, mainName, workDir) {
  const payload = decode(code, binary);
  const folder = fs.mkdtempSync(path.join(workDir, 'action-'));
  if (payload.subarray(0, 4).equals(ZIP_MAGIC)) return unzip(payload, folder);
  if (binary) throw new SourceError('The action is marked binary but its code is not a zip file.');
  fs.writeFileSync(path.join(folder, 'index.js'), payload.toString('utf8') + entryFooter(mainName));
  return folder;
}

function decode(code, binary) {
  const compact = code.replace(/\s+/g, '');
  const looksBase64 = BASE64.test(compact);
  if (binary && !looksBase64) throw new SourceError('The action is marked binary but its code is not base64.');
  // Clients do not always set binary for zips: infer it from the decoded magic, as the Python proxy does.
  if (looksBase64 && (binary || compact.startsWith('UEsDB'))) {
    const decoded = Buffer.from(compact, 'base64');
    if (binary || decoded.subarray(0, 4).equals(ZIP_MAGIC)) return decoded;
  }
  return Buffer.from(code, 'utf8');
}

// Plain code may define `function main` without exporting it (OpenWhisk evaluates it that way):
// the footer records the module-scope binding named by `main` where the launcher can find it.
// A direct eval sees the module's scope and turns any odd name into a caught error.
function entryFooter(mainName) {
  const name = JSON.stringify(mainName);
  return `\n;module.squallEntry = (function () { try { return eval(${name}); } catch (e) { return undefined; } })();\n`;
}

function unzip(payload, folder) {
  const archive = `${folder}.zip`;
  fs.writeFileSync(archive, payload);
  try {
    // -o: overwrite without asking; -qq: quiet. Exit 1 is "warnings only" (e.g. a stripped "../").
    childProcess.execFileSync('unzip', ['-qq', '-o', archive, '-d', folder], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    if (error.code === 'ENOENT') {
      throw new SourceError('Cannot unzip the action: the unzip command is not installed in this image.');
    }
    if (error.status !== 1) {
      const detail = (error.stderr || '').toString().trim() || `unzip exited with ${error.status}`;
      throw new SourceError(`There was an error uncompressing the action archive: ${detail}`);
    }
  } finally {
    fs.rmSync(archive, { force: true });
  }
  if (hasEntry(folder)) return folder;
  // Forgive a zip made of the folder rather than its contents: one top folder holding the entry.
  const children = fs.readdirSync(folder, { withFileTypes: true });
  if (children.length === 1 && children[0].isDirectory() && hasEntry(path.join(folder, children[0].name))) {
    return path.join(folder, children[0].name);
  }
  throw new SourceError('Zipped actions must contain either package.json or index.js at the root.');
}

function hasEntry(folder) {
  return ENTRY_FILES.some((name) => fs.existsSync(path.join(folder, name)));
}

module.exports = { materialise, SourceError };
