"""The file system under the cache root: checked directories, safe deletes, atomic
writes, the lock."""
