/*
 * A stand-in for a vendor's GA/T 947.4 SDK library, built by the tests (tests/it/sdk.rs) with
 * `cc -shared -fPIC`. It behaves like a recorder docked on the station, as the state file
 * named by ZFY_STANDIN_STATE says (key=value lines):
 *
 *   password=...        the device password (GetZFYInfo refuses any other: iRet 4)
 *   serial=A100001      cSerial
 *   badge=012345        userNo
 *   name=<GBK bytes>    userName
 *   unit=<GBK bytes>    unitName
 *   clock_offset_s=N    the recorder's clock runs N seconds ahead of the station's
 *   utc_offset_s=N      the zone of its clock (28800: Beijing time)
 *   battery=N           percent
 *   fail=FUNCTION       that function returns 0 with iRet 2 (a failing call)
 *   crash=FUNCTION      that function dereferences a null pointer
 *   hang=FUNCTION       that function never returns
 *
 * Every call is appended to the file named by ZFY_STANDIN_CALLS, one name per line (the
 * password never), so a test can tell what was asked of the recorder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char cSerial[8];
    char userNo[7];
    char userName[33];
    char unitNo[13];
    char unitName[33];
} ZFY_INFO;

static char st_password[64], st_serial[8], st_badge[7], st_name[33], st_unit[33];
static char st_fail[64], st_crash[64], st_hang[64];
static long st_offset, st_utc_offset = 28800;
static int st_battery = 80, loaded, connected;

static void set(char *dst, size_t size, const char *value) {
    strncpy(dst, value, size - 1);
    dst[size - 1] = 0;
}

static void load(void) {
    char line[256];
    const char *path = getenv("ZFY_STANDIN_STATE");
    FILE *f;
    if (loaded)
        return;
    loaded = 1;
    f = path ? fopen(path, "r") : NULL;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *eq = strchr(line, '='), *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (!eq)
            continue;
        *eq = 0;
        if (!strcmp(line, "password")) set(st_password, sizeof st_password, eq + 1);
        else if (!strcmp(line, "serial")) set(st_serial, sizeof st_serial, eq + 1);
        else if (!strcmp(line, "badge")) set(st_badge, sizeof st_badge, eq + 1);
        else if (!strcmp(line, "name")) set(st_name, sizeof st_name, eq + 1);
        else if (!strcmp(line, "unit")) set(st_unit, sizeof st_unit, eq + 1);
        else if (!strcmp(line, "fail")) set(st_fail, sizeof st_fail, eq + 1);
        else if (!strcmp(line, "crash")) set(st_crash, sizeof st_crash, eq + 1);
        else if (!strcmp(line, "hang")) set(st_hang, sizeof st_hang, eq + 1);
        else if (!strcmp(line, "clock_offset_s")) st_offset = atol(eq + 1);
        else if (!strcmp(line, "utc_offset_s")) st_utc_offset = atol(eq + 1);
        else if (!strcmp(line, "battery")) st_battery = atoi(eq + 1);
    }
    fclose(f);
}

/* Records the call; returns 1 when the function must fail. */
static int enter(const char *fn, int *iRet) {
    const char *calls = getenv("ZFY_STANDIN_CALLS");
    load();
    if (calls) {
        FILE *f = fopen(calls, "a");
        if (f) {
            fprintf(f, "%s\n", fn);
            fclose(f);
        }
    }
    if (!strcmp(st_crash, fn)) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    }
    if (!strcmp(st_hang, fn))
        for (;;)
            sleep(1);
    if (!strcmp(st_fail, fn)) {
        *iRet = 2;
        return 1;
    }
    return 0;
}

static int checked(const char *pwd, int *iRet) {
    if (!connected) {
        *iRet = 2;
        return 0;
    }
    if (strcmp(pwd, st_password) != 0) {
        *iRet = 4;
        return 0;
    }
    return 1;
}

int Init_Device(char *IDCode, int *iRet) {
    if (enter("Init_Device", iRet))
        return 0;
    strcpy(IDCode, "STANDIN-ZFY");
    connected = 1;
    *iRet = 1;
    return 1;
}

int GetIDCode(char *IDCode, int *iRet) {
    if (enter("GetIDCode", iRet))
        return 0;
    strcpy(IDCode, "STANDIN-ZFY-947");
    *iRet = 1;
    return 1;
}

int GetZFYInfo(ZFY_INFO *info, char *sPwd, int *iRet) {
    if (enter("GetZFYInfo", iRet) || !checked(sPwd, iRet))
        return 0;
    memset(info, 0, sizeof *info);
    set(info->cSerial, sizeof info->cSerial, st_serial);
    set(info->userNo, sizeof info->userNo, st_badge);
    set(info->userName, sizeof info->userName, st_name);
    set(info->unitName, sizeof info->unitName, st_unit);
    *iRet = 3;
    return 1;
}

int ReadDeviceBatteryDumpEnergy(int *Battery, char *sPwd, int *iRet) {
    if (enter("ReadDeviceBatteryDumpEnergy", iRet) || !checked(sPwd, iRet))
        return 0;
    *Battery = st_battery;
    *iRet = 1;
    return 1;
}

int ReadDeviceResolution(int *Width, int *Height, char *sPwd, int *iRet) {
    if (enter("ReadDeviceResolution", iRet) || !checked(sPwd, iRet))
        return 0;
    *Width = 1920;
    *Height = 1080;
    *iRet = 1;
    return 1;
}

int ReadDevTime(char *sTime, char *sPwd, int *iRet) {
    time_t t;
    struct tm tm;
    if (enter("ReadDevTime", iRet) || !checked(sPwd, iRet))
        return 0;
    t = time(NULL) + st_offset + st_utc_offset;
    gmtime_r(&t, &tm);
    strftime(sTime, 20, "%Y-%m-%d %H:%M:%S", &tm);
    *iRet = 1;
    return 1;
}

int SyncDevTime(char *sPwd, int *iRet) {
    if (enter("SyncDevTime", iRet) || !checked(sPwd, iRet))
        return 0;
    st_offset = 0;
    *iRet = 5;
    return 1;
}

int SetMSDC(char *sPwd, int *iRet) {
    if (enter("SetMSDC", iRet) || !checked(sPwd, iRet)) {
        if (*iRet == 2)
            *iRet = 8;
        return 0;
    }
    *iRet = 7;
    return 1;
}

void UnInit_Device(int *iRet) {
    connected = 0;
    *iRet = 1;
}
