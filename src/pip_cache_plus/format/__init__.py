"""Pure: bytes in, records out. cachecontrol's entry format, bodies' encodings, index pages,
what a body is (wheel, sdist, metadata, page), zip checks. Nothing here opens a path."""
