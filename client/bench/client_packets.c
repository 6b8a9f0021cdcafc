/* client_packets_per_s: being written. */
#include <stdio.h>
int main(void)
{
    return 0;
}
