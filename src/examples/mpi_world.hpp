// The little of MPI that gpt2-infer --tp needs: start and stop, who am I,
// sum floats over the ranks, agree on a status, gather fixed-size records.
// Only this program depends on MPI; the library takes an all_reduce_fn.
#pragma once

// The C API only: the deprecated C++ bindings warn and are not used.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <cstdint>
#include <vector>

class mpi_world {
 public:
  mpi_world(int* argc, char*** argv) {
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~mpi_world() { MPI_Finalize(); }
  mpi_world(const mpi_world&) = delete;
  mpi_world& operator=(const mpi_world&) = delete;

  std::size_t rank() const noexcept { return static_cast<std::size_t>(rank_); }
  std::size_t size() const noexcept { return static_cast<std::size_t>(size_); }

  // In place: every rank gets the sum of everyone's `count` floats.
  static void sum(float* data, std::size_t count) {
    // MPI counts are int: large buffers go in pieces.
    constexpr std::size_t piece = std::size_t{1} << 30;
    for (std::size_t at = 0; at < count; at += piece) {
      const int n = static_cast<int>(count - at < piece ? count - at : piece);
      MPI_Allreduce(MPI_IN_PLACE, data + at, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
  }

  // The largest of the ranks' values (a failure anywhere stops everyone alike).
  static int max(int value) {
    int out = 0;
    MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return out;
  }

  // Every rank's `values` (same length everywhere), in rank order, at rank 0.
  std::vector<double> gather(const std::vector<double>& values) const {
    std::vector<double> all(rank_ == 0 ? values.size() * size() : 0);
    MPI_Gather(values.data(), static_cast<int>(values.size()), MPI_DOUBLE, all.data(), static_cast<int>(values.size()),
               MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return all;
  }

 private:
  int rank_ = 0, size_ = 1;
};
