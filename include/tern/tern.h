/* tern: the communication layer of a distributed system. Umbrella header. */
#ifndef TERN_H
#define TERN_H

#include "base.h"
#include "broker.h"
#include "kafka.h"
#include "migrate.h"
#include "msg.h"
#include "naming.h"
#include "rpc.h"
#include "xdr.h"

#define TERN_VERSION_MAJOR 0
#define TERN_VERSION_MINOR 1
#define TERN_VERSION_PATCH 0

#endif
