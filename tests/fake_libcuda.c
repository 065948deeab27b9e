/* A fake NVIDIA driver library (libcuda.so.1) for the GPU tests: the CUDA driver API calls
 * the grader's self-test makes, answered from the device files the sandbox binds.
 *
 * Like the real driver, cuInit fails (CUDA_ERROR_UNKNOWN) without /dev/nvidiactl or
 * /dev/nvidia-uvm, and finds no device (CUDA_ERROR_NO_DEVICE) without a /dev/nvidiaN. The
 * device's name, UUID and memory are the text of the first /dev/nvidiaN file:
 * "name|32 hex digits|MiB". A MIG instance named in CUDA_VISIBLE_DEVICES must have its
 * /dev/nvidia-caps nodes. Memory lives on the host; the "kernel" computes on the host.
 * FAKE_CUDA=init-error makes cuInit fail; FAKE_CUDA_VERSION sets the driver's version. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

static char dev_name[256] = "Fake GPU";
static unsigned char dev_uuid[16];
static unsigned long long dev_mib = 1024;
static int ready = 0;

static int first_gpu_node(char *path, size_t size) {
    DIR *dir = opendir("/dev");
    struct dirent *entry;
    int found = 0;
    while (dir && (entry = readdir(dir)) != NULL) {
        if (strncmp(entry->d_name, "nvidia", 6) == 0 && entry->d_name[6] >= '0' &&
            entry->d_name[6] <= '9') {
            snprintf(path, size, "/dev/%s", entry->d_name);
            found = 1;
            break;
        }
    }
    if (dir) closedir(dir);
    return found;
}

static int caps_present(void) {
    DIR *dir = opendir("/dev/nvidia-caps");
    struct dirent *entry;
    int count = 0;
    while (dir && (entry = readdir(dir)) != NULL)
        if (strncmp(entry->d_name, "nvidia-cap", 10) == 0) count++;
    if (dir) closedir(dir);
    return count;
}

CUresult cuInit(unsigned int flags) {
    const char *mode = getenv("FAKE_CUDA");
    const char *visible = getenv("CUDA_VISIBLE_DEVICES");
    char path[300], line[512] = "";
    (void)flags;
    if (mode && strcmp(mode, "init-error") == 0) return 999;
    if (access("/dev/nvidiactl", F_OK) != 0 || access("/dev/nvidia-uvm", F_OK) != 0) return 999;
    if (!first_gpu_node(path, sizeof path)) return 100;
    if (visible && strncmp(visible, "MIG-", 4) == 0 && caps_present() < 2) return 100;
    FILE *file = fopen(path, "r");
    if (file) {
        if (!fgets(line, sizeof line, file)) line[0] = 0;
        fclose(file);
    }
    char *name = strtok(line, "|\n"), *hex = strtok(NULL, "|\n"), *mib = strtok(NULL, "|\n");
    if (name) snprintf(dev_name, sizeof dev_name, "%s", name);
    if (visible && strncmp(visible, "MIG-", 4) == 0) hex = NULL;
    memset(dev_uuid, 0, sizeof dev_uuid);
    for (int i = 0; hex && i < 16 && hex[2 * i] && hex[2 * i + 1]; i++) {
        unsigned value = 0;
        sscanf(hex + 2 * i, "%2x", &value);
        dev_uuid[i] = (unsigned char)value;
    }
    if (mib) dev_mib = strtoull(mib, NULL, 10);
    ready = 1;
    return 0;
}

CUresult cuDriverGetVersion(int *version) {
    const char *value = getenv("FAKE_CUDA_VERSION");
    *version = value ? atoi(value) : 12040;
    return 0;
}

CUresult cuDeviceGetCount(int *count) {
    if (!ready) return 3;
    *count = 1;
    return 0;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) {
    *device = ordinal;
    return ready ? 0 : 3;
}

CUresult cuDeviceGetName(char *name, int length, CUdevice device) {
    (void)device;
    snprintf(name, (size_t)length, "%s", dev_name);
    return 0;
}

CUresult cuDeviceGetUuid(unsigned char *uuid, CUdevice device) {
    (void)device;
    memcpy(uuid, dev_uuid, 16);
    return 0;
}

CUresult cuDeviceGetUuid_v2(unsigned char *uuid, CUdevice device) {
    return cuDeviceGetUuid(uuid, device);
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice device) {
    (void)device;
    *bytes = (size_t)(dev_mib << 20);
    return 0;
}

CUresult cuCtxCreate_v2(void **context, unsigned int flags, CUdevice device) {
    (void)flags;
    (void)device;
    *context = (void *)1;
    return 0;
}

CUresult cuCtxDestroy_v2(void *context) {
    (void)context;
    return 0;
}

CUresult cuCtxSynchronize(void) { return 0; }

CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
    void *memory = malloc(bytes);
    *pointer = (CUdeviceptr)(size_t)memory;
    return memory ? 0 : 2;
}

CUresult cuMemFree_v2(CUdeviceptr pointer) {
    free((void *)(size_t)pointer);
    return 0;
}

CUresult cuMemsetD32_v2(CUdeviceptr pointer, unsigned int value, size_t count) {
    unsigned int *cells = (unsigned int *)(size_t)pointer;
    for (size_t i = 0; i < count; i++) cells[i] = value;
    return 0;
}

CUresult cuMemcpyDtoH_v2(void *target, CUdeviceptr source, size_t bytes) {
    memcpy(target, (void *)(size_t)source, bytes);
    return 0;
}

CUresult cuModuleLoadData(void **module, const void *image) {
    *module = (void *)1;
    return strstr((const char *)image, ".entry fill") ? 0 : 218; /* INVALID_PTX */
}

CUresult cuModuleGetFunction(void **function, void *module, const char *name) {
    (void)module;
    *function = (void *)1;
    return strcmp(name, "fill") == 0 ? 0 : 500; /* NOT_FOUND */
}

CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                        unsigned by, unsigned bz, unsigned shared, void *stream, void **params,
                        void **extra) {
    (void)function, (void)gy, (void)gz, (void)by, (void)bz, (void)shared, (void)stream;
    (void)extra;
    unsigned int *out = (unsigned int *)(size_t)(*(unsigned long long *)params[0]);
    unsigned int count = *(unsigned int *)params[1];
    for (unsigned int i = 0; i < gx * bx && i < count; i++) out[i] = 3 * i + 7;
    return 0;
}

CUresult cuGetErrorName(CUresult error, const char **name) {
    *name = error == 999   ? "CUDA_ERROR_UNKNOWN"
            : error == 100 ? "CUDA_ERROR_NO_DEVICE"
            : error == 3   ? "CUDA_ERROR_NOT_INITIALIZED"
                           : "CUDA_ERROR_OTHER";
    return 0;
}
