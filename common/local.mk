noinst_LTLIBRARIES += common/libbfscommon.la
common_libbfscommon_la_SOURCES = common/log.c common/log.h common/clock.h \
	common/hex.c common/hex.h
