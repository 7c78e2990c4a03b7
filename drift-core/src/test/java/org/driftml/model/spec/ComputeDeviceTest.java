package org.driftml.model.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.global.torch;
import org.driftml.model.internal.Torch;
import org.junit.jupiter.api.Test;
import org.driftml.model.spec.ComputeDevice;

class ComputeDeviceTest {
    @Test
    void parsesPyTorchSpellings() {
        assertEquals(ComputeDevice.CPU, ComputeDevice.parse("cpu"));
        assertEquals(new ComputeDevice(ComputeDevice.Kind.CUDA, 0), ComputeDevice.parse("cuda"));
        assertEquals(new ComputeDevice(ComputeDevice.Kind.CUDA, 3), ComputeDevice.parse(" CUDA:3 "));
        assertEquals("cuda:3", ComputeDevice.parse("cuda:3").toString());
        assertEquals(ComputeDevice.TEST, ComputeDevice.parse("testdevice"));
        assertEquals(ComputeDevice.TEST, ComputeDevice.parse("testdevice:0"));
        assertEquals("testdevice:0", ComputeDevice.TEST.toString());
    }

    @Test
    void rejectsWhatPyTorchWouldReject() {
        for (String bad : new String[] {"gpu", "cpu:0", "cuda:-1", "cuda:x", "", "testdevice:1"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ComputeDevice.parse(bad));
            assertTrue(e.getMessage().startsWith("unknown device"), e.getMessage());
        }
    }

    @Test
    void cpuMapsToTheTorchCpuDevice() {
        assertFalse(Torch.device(ComputeDevice.CPU).is_cuda());
    }

    @Test
    void cudaOnAHostWithoutItSaysHowToGetIt() {
        if (torch.cuda_is_available()) {
            assertTrue(Torch.device(ComputeDevice.parse("cuda:0")).is_cuda());
            return;
        }
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Torch.device(ComputeDevice.parse("cuda:0")));
        assertTrue(e.getMessage().contains("-Pgpu"), e.getMessage());
    }
}
