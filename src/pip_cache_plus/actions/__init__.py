"""One module per command that reads deeply or changes the cache: remove/purge (clean),
prune, migrate (with its journal and batches), export, verify, show."""
