# BFS_REQUIRE_PKG(VARIABLE-PREFIX, MODULES, DEBIAN-PACKAGE)
# Like PKG_CHECK_MODULES, but a missing dependency stops configure with the
# Debian package that provides it, so a user knows what to apt-get install.
AC_DEFUN([BFS_REQUIRE_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [],
    [AC_MSG_ERROR([$2 not found by pkg-config. On Debian/Ubuntu: apt-get install $3])])
])

# BFS_REQUIRE_LIB(LIBRARY, FUNCTION, OTHER-LIBS, DEBIAN-PACKAGE)
AC_DEFUN([BFS_REQUIRE_LIB], [
  bfs_save_LIBS="$LIBS"
  AC_CHECK_LIB([$1], [$2], [],
    [AC_MSG_ERROR([lib$1 ($2) not found. On Debian/Ubuntu: apt-get install $4])], [$3])
  LIBS="$bfs_save_LIBS"
])
