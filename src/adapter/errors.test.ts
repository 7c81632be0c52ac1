import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClickHouseError, storageError } from './errors.ts';

const errno = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('storageError: what a failed ClickHouse call is reported as', () => {
  it('an answer that fails to parse is a bad answer, not "unreachable"', () => {
    const e = storageError(new Error('RowBinary: truncated varint'), 1000);
    assert.equal(e.code, 'clickhouse_bad_answer');
    assert.equal(e.status, 503);
    assert.match(e.message, /RowBinary: truncated varint/);
  });

  it('socket errors are unreachable, timeouts are timeouts, ClickHouse codes keep their meaning', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE'])
      assert.equal(storageError(errno(code, code), 1000).code, 'clickhouse_unreachable');
    const timeout = Object.assign(new Error('ClickHouse did not answer'), { name: 'TimeoutError' });
    assert.equal(storageError(timeout, 1000).code, 'clickhouse_timeout');
    assert.equal(storageError(errno('ETIMEDOUT', 'x'), 1000).code, 'clickhouse_timeout');
    assert.equal(
      storageError(new ClickHouseError(252, 500, 'Too many parts'), 1000).code,
      'clickhouse_too_many_parts',
    );
    assert.equal(storageError(new ClickHouseError(62, 400, 'Syntax error'), 1000).code, 'clickhouse_error');
  });
});
