noinst_LTLIBRARIES += common/libbfscommon.la
common_libbfscommon_la_SOURCES = common/log.c common/log.h common/clock.h \
	common/placement.c common/placement.h common/path.c common/path.h \
	common/registry.c common/registry.h common/proto.h \
	common/hex.c common/hex.h
