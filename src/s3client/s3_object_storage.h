#pragma once
// The stream engine's object storage (stream/storage/object_storage.h) on one
// bucket of any S3 endpoint, through s3client::client. Thread-safe; calls
// block. Errors are stream::errc: object_not_found for NoSuchKey,
// storage_error for everything else (after the client's retries), with the
// S3 error in the message.
//
// Mapping: put -> PutObject; start_upload -> multipart upload, one
// write_part() per UploadPart (parts numbered 1, 2, ...; at most 10000);
// get -> GetObject with a Range (a range starting at or past the end reads
// as empty); size -> HeadObject; remove -> DeleteObjects in batches of 1000
// (single DeleteObject calls when the server does not implement it);
// list -> ListObjectsV2 pages (at most kMaxListKeys keys). An object_upload
// uses its storage's client, so it must not outlive the storage.
#include <memory>
#include <string>

#include "base/result.h"
#include "s3client/client.h"
#include "stream/storage/object_storage.h"

namespace sluice::s3client {

inline constexpr size_t kMaxListKeys = 1'000'000;

// Checks that the bucket exists (HEAD bucket) so that a wrong name or
// endpoint fails here, at start-up, with the S3 error.
result<std::unique_ptr<stream::object_storage>> make_s3_storage(client_config cfg, std::string bucket);

}  // namespace sluice::s3client
