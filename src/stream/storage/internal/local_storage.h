#pragma once
// Knobs of make_local_storage that only tests change.
#include "stream/storage/object_storage.h"

namespace sluice::stream::internal {

// As make_local_storage, listing `list_page_keys` keys per object layer call
// (make_local_storage: 1000, the S3 maximum).
result<std::unique_ptr<object_storage>> make_local_storage(objstore::object_layer& layer, std::string bucket,
                                                           std::string owner, int list_page_keys);

}  // namespace sluice::stream::internal
