import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellQuoted, shellWord } from './shell.js';

describe('shell words', () => {
  it('reach a POSIX shell as the one argument they were, whatever they hold', () => {
    for (const text of ['plain', '/tmp/ini t/é proj', "it's", `a"b$HOME\`x\` \\ *;|&`, "''", '']) {
      expect(execFileSync('sh', ['-c', `printf %s ${shellQuoted(text)}`], { encoding: 'utf8' })).toBe(text);
      expect(execFileSync('sh', ['-c', `printf %s ${shellWord(text)}`], { encoding: 'utf8' })).toBe(text);
    }
  });

  it('leave a word that needs no quotes as it is', () => {
    expect(shellWord('my-project')).toBe('my-project');
    expect(shellWord('../projects/shop_v2')).toBe('../projects/shop_v2');
    expect(shellWord('my project')).toBe("'my project'");
  });
});
