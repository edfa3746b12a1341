/* The library version string, built from the numbers in tern.h so there is
 * only one place to bump. */
#include "tern/tern.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const char *tern_version(void)
{
    return STR(TERN_VERSION_MAJOR) "." STR(TERN_VERSION_MINOR) "." STR(TERN_VERSION_PATCH);
}
