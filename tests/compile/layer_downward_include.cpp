// A source of the record layer including what it declares it uses: accepted.
#include "accounting/diagnostics.hpp"
#include "record/records.hpp"

int main() {}
