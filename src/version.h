/* version.h - the program's version, for the CLI and the files it writes. */
#ifndef SS_VERSION_H
#define SS_VERSION_H

#define SS_VERSION_STRING "0.1.0"

#endif
