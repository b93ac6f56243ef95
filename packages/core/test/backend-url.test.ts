import { describe, expect, it } from 'vitest';
import { backendScheme, redactUrl } from '@skq/core/backend';

describe('backend URLs', () => {
  it('hides passwords, including a Redis password with no user name', () => {
    expect(redactUrl('mongodb://app:s3cret@db1:27017,db2:27017/jobs?replicaSet=rs0')).toBe('mongodb://app:***@db1:27017,db2:27017/jobs?replicaSet=rs0');
    expect(redactUrl('redis://:s3cret@127.0.0.1:6379/0')).toBe('redis://:***@127.0.0.1:6379/0');
    expect(redactUrl('rediss://default:p%40ss@cache.example:6380')).toBe('rediss://default:***@cache.example:6380');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactUrl('redis://user@127.0.0.1:6379')).toBe('redis://user@127.0.0.1:6379');
    expect(redactUrl('sqlite:.skunq/skunq.db')).toBe('sqlite:.skunq/skunq.db');
  });

  it('reads the scheme, and refuses a URL without one', () => {
    expect(backendScheme('MongoDB+srv://cluster0.example/jobs')).toBe('mongodb+srv');
    expect(() => backendScheme('127.0.0.1:6379')).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID', context: { field: 'backend' } }));
  });
});
