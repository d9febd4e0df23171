"""Walk http/, http-v2/ and wheels/, read what is needed, name each entry; the memo."""
