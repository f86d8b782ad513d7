// Debian ships Boost.JSON and Boost.URL 1.81 as headers only: their
// implementation is compiled once, here, for the whole program.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
